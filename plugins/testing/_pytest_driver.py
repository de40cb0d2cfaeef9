"""Runs pytest under coverage.py inside the TARGET's interpreter.

Started by ``runner.py`` as a script (never imported by the workbench), so it
uses only the standard library, pytest and coverage, and syntax that Python
3.8 accepts. Usage:

    python _pytest_driver.py EVENTS.jsonl COVDATA|- COV.json|- -- PYTEST ARGS...

* coverage.Coverage() reads the target's own configuration (.coveragerc,
  setup.cfg, tox.ini, pyproject.toml) exactly as ``coverage run`` does; we only
  force branch coverage, put the data file in our temporary folder and leave
  this file out of the measurement.
* One JSON line per event (collected, start, result, collection error, exit)
  goes to EVENTS, flushed as written, so the workbench shows live progress and
  keeps the finished tests when the process is killed.
* SIGTERM (timeout or Cancel) saves the coverage measured so far before exit.
"""

import json
import os
import signal
import sys
import time


def _watch_parent(parent_pid):
    """End this whole process group if the workbench process that started it dies.

    The group is its own session, so a worker killed by the GUI's Cancel (or a
    crash) would otherwise leave the tests running with nobody to stop them.
    """
    if not parent_pid:
        return
    import threading

    def watch():
        while True:
            time.sleep(0.5)
            if os.getppid() != parent_pid:
                os.killpg(os.getpgrp(), signal.SIGKILL)

    threading.Thread(target=watch, name="wb-parent-watch", daemon=True).start()


_BUILTIN_MARKS = {"parametrize", "skip", "skipif", "xfail", "usefixtures", "filterwarnings", "timeout"}


def main():
    events_path, data_file, json_path = sys.argv[1], sys.argv[2], sys.argv[3]
    pytest_args = sys.argv[sys.argv.index("--") + 1:]
    events = open(events_path, "a", buffering=1, encoding="utf-8")

    def emit(**fields):
        events.write(json.dumps(fields) + "\n")

    # As ``python -m``: the working directory (the target) comes first on sys.path.
    sys.path[0] = os.getcwd()
    sys.argv = ["pytest"] + pytest_args

    cov = None
    if data_file != "-":
        import coverage

        cov = coverage.Coverage(data_file=data_file, branch=True)
        omit = list(cov.get_option("run:omit") or [])
        cov.set_option("run:omit", omit + [os.path.abspath(__file__)])

    def save_coverage():
        if cov is None:
            return
        cov.stop()
        cov.save()
        if cov.get_option("run:parallel"):
            # parallel = true in the target's config writes suffixed files: combine them.
            import coverage

            combined = coverage.Coverage(data_file=data_file, branch=True)
            combined.combine([os.path.dirname(os.path.abspath(data_file))])
            combined.save()
            return combined
        return cov

    def write_json(measured):
        if measured is None or json_path == "-":
            return
        try:
            measured.json_report(outfile=json_path)
        except Exception as exc:  # "No data to report.", "No source for code" and their kind
            emit(ev="coverage_error", message="%s: %s" % (type(exc).__name__, exc))
            if type(exc).__name__ == "NoSource":
                # A measured file without source (a frozen or virtual module): report
                # the rest as ``coverage json -i`` would, and say so.
                try:
                    measured.json_report(outfile=json_path, ignore_errors=True)
                    emit(ev="coverage_error", message="reported with ignore_errors (coverage json -i)")
                except Exception:
                    pass

    def on_sigterm(signum, frame):
        emit(ev="terminated", t=time.time())
        try:
            write_json(save_coverage())
        finally:
            events.flush()
            os._exit(143)

    signal.signal(signal.SIGTERM, on_sigterm)
    _watch_parent(int(os.environ.get("WB_TESTRUN_PARENT", "0")))

    import pytest

    class Progress(object):
        def pytest_collection_finish(self, session):
            # Markers sort tests into groups (functional/performance/security) for the score.
            markers = {}
            for item in session.items:
                names = sorted(set(m.name for m in item.iter_markers()) - _BUILTIN_MARKS)
                if names:
                    markers[item.nodeid] = names
            emit(ev="collected", n=len(session.items), markers=markers)

        def pytest_collectreport(self, report):
            if report.failed:
                emit(ev="collect_error", id=report.nodeid, message=str(report.longrepr)[-4000:])

        def pytest_runtest_logstart(self, nodeid, location):
            emit(ev="start", id=nodeid, file=location[0], t=time.time())

        def pytest_runtest_logreport(self, report):
            # One result per test: the call phase, or a setup that did not pass
            # (error or skip), plus a failing teardown as an error of its own.
            if report.when == "call" or (report.when == "setup" and not report.passed) or (
                    report.when == "teardown" and report.failed):
                message = ""
                if not report.passed:
                    message = str(report.longrepr)[-4000:]
                emit(ev="result", id=report.nodeid, file=report.location[0], when=report.when,
                     outcome=report.outcome, duration=report.duration, message=message,
                     xfail=bool(getattr(report, "wasxfail", None)))

    if cov is not None:
        cov.start()
    try:
        rc = int(pytest.main(pytest_args, plugins=[Progress()]))
    finally:
        measured = save_coverage()
    write_json(measured)
    emit(ev="exit", rc=rc)
    events.close()
    sys.exit(rc)


if __name__ == "__main__":
    main()
