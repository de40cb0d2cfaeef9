"""Runs pytest under coverage.py inside the TARGET's interpreter.

Started by ``runner.py`` as a script (never imported by the workbench), so it
uses only the standard library, pytest and coverage, and syntax that Python
3.8 accepts. Usage:

    python _pytest_driver.py EVENTS.jsonl COVDATA|- COV.json|- -- PYTEST ARGS...

* coverage.Coverage() reads the target's own configuration (.coveragerc,
  setup.cfg, tox.ini, pyproject.toml) exactly as ``coverage run`` does; we
  put the data file in our temporary folder and leave the workbench's own
  files out of the measurement (branch coverage only if the target asks).
* One JSON line per event (interpreter, versions, collected, start, result,
  subtest, collection error, parse_cache, exit) goes to EVENTS, flushed as
  written, so the workbench shows live progress and keeps the finished tests
  when the process is killed. The first, ``interpreter``, is the runner's
  interpreter check (Python version, pytest and coverage.py importable): a
  driver that cannot run the tests says so and exits with 96 at once.
* ``WB_PARSE_CACHE=PATH``: coverage.py's parse of each file as an earlier run
  kept it (``ParseCache``); the new state goes to PATH.new when it changed.
* Nothing of the workbench is imported here, and nothing heavy: only the
  standard library, pytest and coverage.py load into the measured process.
* SIGTERM (timeout or Cancel) saves the coverage measured so far before exit.
* Per-group coverage for the score: each test runs in the coverage context
  ``wb-group:<group>`` (its group by the rules in ``WB_TEST_GROUPS``, decided
  by ``score.group_of``), switched only when the group changes. At the end,
  one coverage JSON report per group (``COV.group-<group>.json``) covers the
  files that group's tests executed, counting the lines its tests ran plus
  those run outside any test (imports, collection). Skipped when the target's
  own configuration sets ``dynamic_context`` (its contexts win).
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


def _own_files():
    """Files of the workbench loaded into this process before coverage starts.

    This driver, what it loaded from its folder (score.py), and any other module
    of the workbench's own tree that came in at start-up (the network guard that
    a sitecustomize loads into every child): its functions run during the tests
    (a socket hook), so coverage.py would count the file as part of the target.
    Other than this folder's files, a file inside the target's own folder is
    never left out; neither is an installed package (coverage.py leaves those
    out itself).
    """
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))  # the workbench's checkout
    target = os.getcwd() + os.sep
    files = {os.path.abspath(__file__)}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not path:
            continue
        path = os.path.abspath(path)
        if path.startswith(here + os.sep) or (
                path.startswith(root + os.sep) and not path.startswith(target)
                and "site-packages" not in path and "dist-packages" not in path):
            files.add(path)
    return sorted(files)


GROUP_PREFIX = "wb-group:"
#: Contexts of no test: imports and collection (a static context alone, or none).
OUTSIDE_TESTS = r"^(?!.*wb-group:)"


def _load_group_of():
    """``score.group_of`` of the workbench, loaded by path (the target interpreter cannot import the plugin)."""
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "score.py")
    spec = importlib.util.spec_from_file_location("_wb_testing_score", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # so that _own_files() leaves it out of the measurement
    spec.loader.exec_module(module)
    return module.group_of


def write_group_reports(measured, json_path, groups_seen, emit, analyses=None):
    """One JSON report per group over the files its tests executed (see the module docstring).

    ``analyses``: the main report's, by file, when only one group ran (see ``_group_totals``).
    """
    import re

    data = measured.get_data()
    for group in sorted(groups_seen):
        own = GROUP_PREFIX + re.escape(group) + "$"
        data.set_query_contexts([own])
        files = [f for f in data.measured_files() if data.lines(f)]
        data.set_query_contexts(None)
        if not files:
            continue
        outfile = "%s.group-%s.json" % (json_path[:-5], group)
        try:
            if not _group_totals(measured, files, [own, OUTSIDE_TESTS], outfile,
                                 analyses if len(groups_seen) == 1 else None):
                measured.json_report(morfs=files, outfile=outfile, contexts=[own, OUTSIDE_TESTS],
                                     ignore_errors=True)
        except Exception as exc:
            emit(ev="coverage_error", message="group %s: %s: %s" % (group, type(exc).__name__, exc))


def _group_totals(measured, files, contexts, outfile, analyses=None):
    """A group's totals and per-file summaries in coverage.py's JSON shape, without the full JSON report.

    The numbers are coverage.py's own (its analysis of each file, with the
    report restricted to ``contexts`` as ``json_report(contexts=...)`` does);
    only the line lists, which the score does not use, are left out. Needs
    coverage.py's private ``_analyze``: False (use ``json_report``) without it
    or when the target's configuration filters reports (report include/omit).
    ``analyses`` (file -> the main report's analysis) is given only when one
    group ran: its contexts and the no-test ones are then every context of
    the run, so the restricted analysis is the main one, not made twice.
    """
    analyze = getattr(measured, "_analyze", None)
    config = getattr(measured, "config", None)
    if analyze is None or config is None or config.report_include or config.report_omit:
        return False
    data = measured.get_data()
    data.set_query_contexts(contexts)
    total = None
    summaries = {}
    try:
        for path in files:
            analysis = analyses.get(path) if analyses else None
            if analysis is None:
                try:
                    analysis = analyze(path)
                except Exception:
                    continue  # as ignore_errors=True: a file without source is left out
            nums = analysis.numbers
            total = nums if total is None else total + nums
            name = measured._get_file_reporter(path).relative_filename()
            summaries[name] = {"summary": _summary(nums)}
    finally:
        data.set_query_contexts(None)
    if total is None:
        return False
    with open(outfile, "w") as fh:
        json.dump({"totals": _summary(total), "files": summaries}, fh)
    return True


def _remember_analyses(cov, into):
    """Keep, in ``into`` by file, the analyses coverage.py makes for the next report; returns the undo.

    None (nothing kept) when the target's configuration restricts reports to
    some contexts: the main report's analyses are then not the whole run's.
    """
    analyze = getattr(cov, "_analyze", None)
    if analyze is None or getattr(getattr(cov, "config", None), "report_contexts", True):
        return None

    def remembering(morf, *args, **kwargs):
        analysis = analyze(morf, *args, **kwargs)
        into[analysis.filename] = analysis
        return analysis

    cov._analyze = remembering

    def forget():
        del cov._analyze

    return forget


def _summary(nums):
    return {"percent_covered": nums.pc_covered, "num_statements": nums.n_statements,
            "covered_lines": nums.n_executed, "num_branches": nums.n_branches,
            "covered_branches": nums.n_executed_branches}


def _subtest_name(context):
    """``[msg] (k=v, ...)`` as pytest 9 writes a subtest's name."""
    parts = []
    if getattr(context, "msg", None) is not None:
        parts.append("[%s]" % (context.msg,))
    if context.kwargs:
        parts.append("(%s)" % ", ".join("%s=%s" % kv for kv in context.kwargs.items()))
    return " ".join(parts) or "(<subtest>)"


def _reuse_file_reporters(cov, parse_cache=None):
    """Parse each measured file once for all the reports of this run (main and per group), and skip regions.

    coverage.py makes a new file reporter, and parses the source again, for every
    report; the per-group reports would multiply the parsing cost. With
    ``parse_cache``, a file whose parse an earlier run kept is not parsed at all.
    Private API: without it (another coverage.py version) the reports are only slower.
    """
    make = getattr(cov, "_get_file_reporter", None)
    if make is None:
        return
    cache = {}
    has_arcs = cov.get_data().has_arcs()

    def cached(morf):
        if not isinstance(morf, str):
            return make(morf)
        if morf not in cache:
            reporter = cache[morf] = make(morf)
            # No per-function and per-class sections in the JSON (we read the files'
            # totals): they parse each file once more and narrow the analysis per region.
            reporter.code_region_kinds = lambda: []
            reporter.code_regions = lambda: []
            if parse_cache is not None:
                parse_cache.attach(reporter, has_arcs)
        return cache[morf]

    cov._get_file_reporter = cached


#: What coverage.py's parser leaves for the analysis and the reports (the AST is not kept).
_PARSED = ("statements", "excluded", "raw_statements", "raw_excluded", "raw_docstrings", "multiline_map")
#: (Not the missing-arc descriptions: no report of ours reads them, and a restored parser
#: that is asked for one runs the AST analysis again, as coverage.py would.)
_PARSED_ARCS = ("_all_arcs", "_with_jump_fixers")
_PARSE_CACHE_FORMAT = "1"


def _encode(value):
    """JSON for the parser's sets, tuples and dicts with tuple keys (tagged, so they come back as they were)."""
    if isinstance(value, (int, str, float)) or value is None:
        return value
    if isinstance(value, (set, frozenset)):
        return {"s": [_encode(v) for v in value]}
    if isinstance(value, tuple):
        return {"t": [_encode(v) for v in value]}
    if isinstance(value, dict):
        return {"d": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    raise TypeError("cannot keep a %s" % type(value).__name__)


def _decode(value):
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "s" in value:
        return set(_decode(v) for v in value["s"])
    if "t" in value:
        return tuple(_decode(v) for v in value["t"])
    return dict((_decode(k), _decode(v)) for k, v in value["d"])


def _is_arc(value):
    return isinstance(value, tuple) and len(value) == 2 and all(type(n) is int for n in value)


def _valid(name, value):
    """Is ``value`` what coverage.py's parser holds in ``name``? (Line numbers, arcs, their maps.)"""
    if name in ("statements", "excluded", "raw_statements", "raw_excluded", "raw_docstrings"):
        return isinstance(value, set) and all(type(n) is int for n in value)
    if name == "multiline_map":
        return isinstance(value, dict) and all(type(k) is int and type(v) is int for k, v in value.items())
    if name == "_all_arcs":
        return isinstance(value, set) and all(_is_arc(a) for a in value)
    if name == "_with_jump_fixers":
        return isinstance(value, dict) and all(_is_arc(k) and (v is None or _is_arc(v)) for k, v in value.items())
    return False


class ParseCache(object):
    """coverage.py's parse of each measured file, kept from one run of a target to the next.

    Parsing (tokenize, ast, compile) is most of the report's cost, and a plain
    ``coverage run`` never reports. An entry is reused only for the same source
    text, exclusion regex, coverage.py version and Python build (the key), and
    it holds exactly the parser's results, so the analysis, and every figure,
    is the one a fresh parse gives. IN is the runner's JSON ``{"salt", "files":
    {path: {"key", "parsed"}}}``; OUT gets this run's entries, written only
    when something changed. Any surprise (another coverage.py without these
    attributes, a bad file) means: parse as usual.
    """

    def __init__(self, path_in, path_out):
        import coverage
        import hashlib

        self.path_out = path_out
        self.salt = "|".join((_PARSE_CACHE_FORMAT, coverage.__version__, sys.implementation.name, sys.version))
        self.sha256 = hashlib.sha256
        self.parser_class = _cached_parser_class()
        self.entries = {}
        self.reporters = []
        self.reused = 0
        try:
            with open(path_in, encoding="utf-8") as fh:
                doc = json.load(fh)
            if isinstance(doc, dict) and doc.get("salt") == self.salt and isinstance(doc.get("files"), dict):
                self.entries = doc["files"]
        except (OSError, ValueError):
            pass

    def _key(self, reporter):
        exclude = reporter.coverage._exclude_regex("exclude") or ""
        text = reporter.source()
        return exclude, text, self.sha256(("%s\0%s\0" % (self.salt, exclude) + text).encode(
            "utf-8", "surrogatepass")).hexdigest()

    def attach(self, reporter, has_arcs):
        """Give ``reporter`` its parse from the cache when the key matches; remember it for ``save``."""
        try:
            from coverage.python import PythonFileReporter

            if type(reporter) is not PythonFileReporter or getattr(reporter, "_parser", 1) is not None:
                return
            exclude, text, key = self._key(reporter)
        except Exception:
            return  # a file without source, or another coverage.py: reported as usual
        self.reporters.append((reporter, key))
        entry = self.entries.get(reporter.filename)
        try:
            names = set(entry["parsed"]) if entry and entry.get("key") == key else set()
        except Exception:
            return
        if not names.issuperset(_PARSED + (_PARSED_ARCS if has_arcs else ())):
            return  # not kept, another file's text, or kept without the arcs this run needs
        try:
            parser = self.parser_class(text=text, filename=reporter.filename, exclude=exclude)
            for name, value in entry["parsed"].items():
                value = _decode(value)
                if not _valid(name, value):
                    return  # a damaged entry: parsed as usual
                setattr(parser, name, value)
        except Exception:
            return
        reporter._parser = parser
        self.reused += 1

    def save(self):
        files = {}
        for reporter, key in self.reporters:
            parser = getattr(reporter, "_parser", None)
            if parser is None:
                continue
            if isinstance(parser, self.parser_class) and not parser.arcs_computed_here:
                files[reporter.filename] = self.entries[reporter.filename]
                continue
            try:
                names = _PARSED + (_PARSED_ARCS if parser._all_arcs is not None else ())
                files[reporter.filename] = {"key": key, "parsed": dict((n, _encode(getattr(parser, n)))
                                                                       for n in names)}
            except Exception:
                continue  # not kept: parsed again next time
        if files == self.entries:
            return
        tmp = self.path_out + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"salt": self.salt, "files": files}, fh, separators=(",", ":"))
        os.replace(tmp, self.path_out)


def _cached_parser_class():
    from coverage.parser import PythonParser

    class CachedParser(PythonParser):
        """A parser restored from the cache: no AST until something needs one (arcs, in a line-only entry)."""

        arcs_computed_here = False

        def _analyze_ast(self):
            import ast

            if self._ast_root is None:
                self._ast_root = ast.parse(self.text)
            self.arcs_computed_here = True
            PythonParser._analyze_ast(self)

        def arc_description(self, start, end):
            if self._missing_arc_fragments is None:
                self._analyze_ast()
            return PythonParser.arc_description(self, start, end)

    return CachedParser


_BUILTIN_MARKS = {"parametrize", "skip", "skipif", "xfail", "usefixtures", "filterwarnings", "timeout"}


def main():
    if sys.version_info < (3, 8):
        sys.exit(96)  # no "interpreter" event: the runner asks interpreter.probe, which says why
    events_path, data_file, json_path = sys.argv[1], sys.argv[2], sys.argv[3]
    pytest_args = sys.argv[sys.argv.index("--") + 1:]
    events = open(events_path, "a", buffering=1, encoding="utf-8")

    def emit(**fields):
        events.write(json.dumps(fields) + "\n")

    # As ``python -m``: the working directory (the target) comes first on sys.path.
    sys.path[0] = os.getcwd()
    sys.argv = ["pytest"] + pytest_args

    # The runner's interpreter check (interpreter.check), answered here rather than by a
    # process of its own; the versions follow once pytest and coverage.py are imported.
    import importlib.util

    found = dict((name, importlib.util.find_spec(name) is not None) for name in ("pytest", "coverage"))
    emit(ev="interpreter", version="%d.%d.%d" % tuple(sys.version_info[:3]), major=sys.version_info[0],
         executable=sys.executable, pytest="found" if found["pytest"] else None,
         coverage="found" if found["coverage"] else None)
    if not all(found.values()):
        events.close()
        sys.exit(96)

    cov = None
    group_of, group_rules, groups_seen = None, None, set()
    if data_file != "-":
        import coverage

        # Exactly ``coverage run``'s configuration: branch coverage only if the target asks.
        # pytest-cov's options, if given with the pytest arguments, as pytest-cov applies them.
        options = json.loads(os.environ.get("WB_COV_OPTIONS") or "{}")
        cov = coverage.Coverage(data_file=data_file, config_file=options.get("config_file", True),
                                source=options.get("source"), branch=True if options.get("branch") else None)
        if options.get("context") == "test":
            cov.set_option("run:dynamic_context", "test_function")
        if os.environ.get("WB_TEST_GROUPS") and not cov.get_option("run:dynamic_context"):
            group_rules = json.loads(os.environ["WB_TEST_GROUPS"])
            group_of = _load_group_of()
        # The workbench's own files that run inside the measured process (this driver,
        # score.group_of called at collection) are not the target's code: left out,
        # or a target without ``source =`` would count them in its total.
        omit = list(cov.get_option("run:omit") or [])
        cov.set_option("run:omit", omit + _own_files())

    def save_coverage():
        if cov is None:
            return
        cov.stop()
        cov.save()
        if cov.get_option("run:parallel"):
            # parallel = true in the target's config writes suffixed files: combine them.
            import coverage

            combined = coverage.Coverage(data_file=data_file, config_file=options.get("config_file", True),
                                         source=options.get("source"),
                                         branch=True if options.get("branch") else None)
            combined.set_option("run:omit", cov.get_option("run:omit"))
            combined.combine([os.path.dirname(os.path.abspath(data_file))])
            combined.save()
            return combined
        return cov

    def write_json(measured):
        if measured is None or json_path == "-":
            return
        parse_cache = None
        if os.environ.get("WB_PARSE_CACHE"):
            try:
                parse_cache = ParseCache(os.environ["WB_PARSE_CACHE"], os.environ["WB_PARSE_CACHE"] + ".new")
            except Exception:
                pass
        _reuse_file_reporters(measured, parse_cache)
        try:
            _write_reports(measured)
        finally:
            if parse_cache is not None:
                try:
                    parse_cache.save()
                    emit(ev="parse_cache", reused=parse_cache.reused, files=len(parse_cache.reporters))
                except Exception as exc:
                    emit(ev="coverage_error", message="parse cache not kept: %s: %s" % (type(exc).__name__, exc))

    def _write_reports(measured):
        analyses = {} if len(groups_seen) == 1 else None
        forget = _remember_analyses(measured, analyses) if analyses is not None else None
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
        finally:
            if forget is not None:
                forget()
        if groups_seen:
            write_group_reports(measured, json_path, groups_seen, emit, analyses if forget else None)

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

    if "coverage" not in sys.modules:
        import coverage  # noqa: F401  (its version only: this run does not measure)
    emit(ev="versions", pytest=pytest.__version__, coverage=sys.modules["coverage"].__version__)

    group_by_id = {}
    current_group = [None]
    setup_time = {}

    class Progress(object):
        def pytest_collection_finish(self, session):
            # Markers sort tests into groups (functional/performance/security) for the score.
            markers = {}
            for item in session.items:
                names = sorted(set(m.name for m in item.iter_markers()) - _BUILTIN_MARKS)
                if names:
                    markers[item.nodeid] = names
                if group_of is not None:
                    group_by_id[item.nodeid] = group_of(
                        {"markers": names, "file": item.location[0], "id": item.nodeid}, group_rules)
            emit(ev="collected", n=len(session.items), markers=markers)

        def pytest_collectreport(self, report):
            if report.failed:
                emit(ev="collect_error", id=report.nodeid, message=str(report.longrepr)[-4000:])

        def pytest_runtest_logstart(self, nodeid, location):
            emit(ev="start", id=nodeid, file=location[0], t=time.time())
            group = group_by_id.get(nodeid)
            if group is not None and group != current_group[0]:
                # Setup, call and teardown of this test run in its group's context.
                cov.switch_context(GROUP_PREFIX + group)
                current_group[0] = group
                groups_seen.add(group)

        def pytest_runtest_logreport(self, report):
            context = getattr(report, "context", None)
            if context is not None and hasattr(context, "kwargs"):
                # A subtest (pytest 9's built-in subtests, unittest's subTest, the
                # pytest-subtests plugin): a case of its own, as pytest counts it.
                description = getattr(report, "_sub_test_description", None)
                emit(ev="subtest", id=report.nodeid, file=report.location[0],
                     sub=description() if description else _subtest_name(context), outcome=report.outcome,
                     duration=report.duration, message="" if report.passed else str(report.longrepr)[-4000:])
                return
            if report.when == "setup" and report.passed:
                setup_time[report.nodeid] = report.duration
                return
            # One result per test: the call phase, or a setup that did not pass
            # (error or skip), plus a failing teardown as an error of its own.
            if report.when == "call" or report.when == "setup" or (report.when == "teardown" and report.failed):
                message = ""
                if not report.passed:
                    message = str(report.longrepr)[-4000:]
                emit(ev="result", id=report.nodeid, file=report.location[0], when=report.when,
                     outcome=report.outcome, duration=report.duration + setup_time.pop(report.nodeid, 0.0),
                     message=message, xfail=bool(getattr(report, "wasxfail", None)))

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
