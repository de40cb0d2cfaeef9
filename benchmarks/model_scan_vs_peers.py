"""Malicious model files (issue 17's classes and the earlier set): our model scan against
picklescan and modelscan, counted on the same files in the same run.

    python benchmarks/model_scan_vs_peers.py [-n RUNS] [--json FILE] [--verbose]

The corpus is ``tests/code_audit/test_model_sniff_corpus.build_corpus``, written to a
temporary folder; every dangerous file would run a payload when loaded the usual way
(``torch.load``, ``pickle.load``, ``pandas.read_pickle``, ``np.load(allow_pickle=True)``,
Keras), and nothing here loads any of them. Each tool is given each file's path,
one file at a time, then the whole folder once:

* **found**: the tool reports anything about the file (an issue of any severity, or an
  error / unparsed finding of its own) - the file did not pass silently;
* **high**: the tool reports it as dangerous (ours: HIGH; picklescan: a dangerous global;
  modelscan: HIGH or CRITICAL);
* **crashed**: the tool raised on the file (neither found nor high);
* **folder**: the same counts when the tool is pointed at the folder, where it picks
  the files itself (by name for both peers, by content for ours).

Times are the median of RUNS scans of the whole corpus file by file. A peer that is
not installed is reported as missing and skipped. picklescan and modelscan are
benchmark-only tools: ``pip install --no-deps picklescan modelscan tomlkit`` into the
venv; they are not dependencies of the workbench.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
from contextlib import redirect_stderr, redirect_stdout

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "code_audit"))


def ours_file(path: str) -> tuple[bool, bool]:
    from workbench_plugins.code_audit.model_scan import finding_fields, scan_file

    results, _ = scan_file(path)
    return bool(results), any(finding_fields(r)["severity"] == "HIGH" for r in results)


def ours_folder(root: str) -> dict[str, tuple[bool, bool]]:
    from workbench_plugins.code_audit.engine import audit_tree

    result = audit_tree({"target": root, "include_secrets": False, "workers": 1})
    out: dict[str, tuple[bool, bool]] = {}
    for f in result.findings:
        found, high = out.get(f.path, (False, False))
        out[f.path] = (True, high or f.severity == "HIGH")
    return out


def picklescan_file(path: str) -> tuple[bool, bool]:
    from picklescan.scanner import SafetyLevel, scan_file_path

    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        r = scan_file_path(path)
    high = any(g.safety == SafetyLevel.Dangerous for g in r.globals)
    return bool(r.issues_count or r.scan_err or getattr(r, "suspicious_count", 0) or high), high


def picklescan_folder(root: str) -> dict[str, tuple[bool, bool]]:
    """The files picklescan's own directory walk picks (by extension), each as it scans them.
    Its ``scan_directory_path`` stops at the first file it raises on: said once, on stderr."""
    from picklescan import scanner

    picked = set(scanner._zip_file_extensions) | set(scanner._pickle_file_extensions) \
        | set(scanner._pytorch_file_extensions)
    try:
        with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
            scanner.scan_directory_path(root)
    except Exception as exc:  # noqa: BLE001
        print(f"picklescan: its folder scan raised {type(exc).__name__}: {str(exc)[:80]}", file=sys.stderr)
    out: dict[str, tuple[bool, bool]] = {}
    for base, _, names in os.walk(root):
        for name in names:
            if os.path.splitext(name)[1] in picked:
                path = os.path.join(base, name)
                try:
                    out[os.path.relpath(path, root)] = picklescan_file(path)
                except Exception:  # noqa: BLE001
                    pass
    return out


def _modelscan(path: str) -> dict:
    from modelscan.modelscan import ModelScan

    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        return ModelScan().scan(path)


def modelscan_file(path: str) -> tuple[bool, bool]:
    res = _modelscan(path)
    issues, errors = res.get("issues") or [], res.get("errors") or []
    return bool(issues or errors), any(i.get("severity") in ("HIGH", "CRITICAL") for i in issues)


def modelscan_folder(root: str) -> dict[str, tuple[bool, bool]]:
    res = _modelscan(root)
    out: dict[str, tuple[bool, bool]] = {}
    for item in (res.get("issues") or []) + (res.get("errors") or []):
        source = str(item.get("source") or "")
        if not source:
            continue
        rel = source.split(":")[0].split(" ")[0]
        rel = os.path.relpath(rel, root) if os.path.isabs(rel) else rel
        was = out.get(rel, (False, False))
        out[rel] = (True, was[1] or item.get("severity") in ("HIGH", "CRITICAL"))
    return out


TOOLS = {
    "workbench": ("workbench_plugins.code_audit.model_scan", ours_file, ours_folder),
    "picklescan": ("picklescan.scanner", picklescan_file, picklescan_folder),
    "modelscan": ("modelscan.modelscan", modelscan_file, modelscan_folder),
}


def _installed(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=3, help="timed runs of each tool (median reported)")
    parser.add_argument("--json", metavar="FILE", help="write every count and per-file result here")
    parser.add_argument("--verbose", action="store_true", help="one line per file and tool")
    args = parser.parse_args()

    from test_model_sniff_corpus import build_corpus

    with tempfile.TemporaryDirectory() as tmp:
        marker = os.path.join(tmp, "PAYLOAD_RAN")
        root = os.path.join(tmp, "corpus")
        corpus = build_corpus(root, marker)
        dangerous = [rel for rel, _, d in corpus if d]
        report: dict = {"files": len(corpus), "dangerous": len(dangerous), "tools": {}}
        print(f"{len(corpus)} malicious model files ({len(dangerous)} dangerous), "
              f"{len({c for _, c, _ in corpus})} classes")
        for name, (module, per_file, per_folder) in TOOLS.items():
            if not _installed(module):
                print(f"{name:11s} not installed: skipped")
                report["tools"][name] = None
                continue
            rows, crashed = {}, []
            for rel, _, _ in corpus:
                try:
                    rows[rel] = per_file(os.path.join(root, rel))
                except Exception:  # noqa: BLE001 - a peer raising on a file: counted, neither found nor high
                    rows[rel] = (False, False)
                    crashed.append(rel)
            times = []
            for _ in range(args.n):
                t = time.perf_counter()
                for rel, _, _ in corpus:
                    try:
                        per_file(os.path.join(root, rel))
                    except Exception:  # noqa: BLE001
                        pass
                times.append(time.perf_counter() - t)
            try:
                folder = per_folder(root)
            except Exception as exc:  # noqa: BLE001 - a peer's folder mode failing is a result too
                folder = {}
                print(f"{name}: folder scan failed: {type(exc).__name__}: {exc}")
            found = sum(f for f, _ in rows.values())
            high = sum(rows[rel][1] for rel in dangerous)
            folder_found = sum(1 for rel, _, _ in corpus if folder.get(rel, (False, False))[0])
            folder_high = sum(1 for rel in dangerous if folder.get(rel, (False, False))[1])
            by_class: dict[str, list[int]] = {}
            for rel, cls, _ in corpus:
                by_class.setdefault(cls, [0, 0])
                by_class[cls][0] += rows[rel][0]
                by_class[cls][1] += 1
            report["tools"][name] = {"found": found, "high": high, "crashed": crashed, "folder_found": folder_found,
                                     "folder_high": folder_high, "median_seconds": statistics.median(times),
                                     "by_class": by_class, "files": {rel: list(v) for rel, v in rows.items()}}
            print(f"{name:11s} found {found:2d}/{len(corpus)}  high {high:2d}/{len(dangerous)}  "
                  f"crashed on {len(crashed)}  folder: found {folder_found:2d} high {folder_high:2d}  "
                  f"median {statistics.median(times) * 1000:7.1f} ms for the corpus")
            print("            by class (found/files): "
                  + ", ".join(f"{c} {a}/{b}" for c, (a, b) in by_class.items()))
            if args.verbose:
                for rel, (f, h) in rows.items():
                    state = "CRASH" if rel in crashed else "found" if f else "-----"
                    print(f"    {state} {'HIGH' if h else '    '} {rel}")
        if os.path.exists(marker):
            print("a payload ran: this must never happen")
            return 1
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
