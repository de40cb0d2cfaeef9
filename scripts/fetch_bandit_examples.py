"""Fetch bandit's ``examples/`` folder from its PyPI source distribution.

The examples are bandit's own test corpus (Apache-2.0); they are downloaded
at test or benchmark time into a folder you name and never committed:

    python scripts/fetch_bandit_examples.py DEST

downloads the sdist of the *installed* bandit version with
``pip download --no-deps --no-binary :all:`` and extracts ``examples/`` to
``DEST/examples``. Prints that path; exits 1 with a message when the
package index cannot be reached.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import tarfile
import tempfile


def fetch(dest: str) -> str:
    from importlib.metadata import version

    wanted = version("bandit")
    out = os.path.join(dest, "examples")
    if os.path.isdir(out) and os.listdir(out):
        return out
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
               "--quiet", "-d", tmp, f"bandit=={wanted}"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        archives = glob.glob(os.path.join(tmp, "bandit-*.tar.gz"))
        if proc.returncode != 0 or not archives:
            raise RuntimeError(f"could not download the bandit {wanted} sdist: {proc.stderr.strip()[-500:]}")
        _extract_examples(archives[0], out)
    return out


def _extract_examples(archive: str, out: str) -> None:
    os.makedirs(out, exist_ok=True)
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            parts = member.name.split("/")
            # bandit-X.Y.Z/examples/<file>; only plain files, no links or "..".
            if len(parts) < 3 or parts[1] != "examples" or not member.isfile() or ".." in parts:
                continue
            rel = os.path.join(*parts[2:])
            target = os.path.join(out, rel)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with tar.extractfile(member) as src, open(target, "wb") as dst:
                dst.write(src.read())


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    try:
        print(fetch(sys.argv[1]))
    except (RuntimeError, subprocess.TimeoutExpired, OSError) as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
