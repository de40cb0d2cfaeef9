"""Entry point of the one-folder app: the same `workbench` command as the console script."""

import multiprocessing
import sys

if __name__ == "__main__":
    # Jobs run in spawned worker processes; a frozen app must route those starts to the worker code.
    multiprocessing.freeze_support()
    from workbench.cli import main

    sys.exit(main())
