"""``workbench report`` and ``workbench verify-report``: build the report as data, render it,
sign it, log it; check a report offline.

Registered by the entry point (``workbench.cli``); imports QtGui only inside the commands,
and never the GUI package.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import sys
from pathlib import Path

SEVERITY_CHOICES = ("LOW", "MEDIUM", "HIGH")
STATUS_CHOICES = ("open", "false_positive", "accepted_risk", "fixed", "suppressed")


def add_report_commands(cli, registry_loader) -> None:
    p = cli.command("report", "write the summary of a project (PDF or self-contained HTML), signed")
    p.add_argument("project")
    p.add_argument("-o", "--output", required=True,
                   help="file to write; {project}, {date} and {template} are filled in, e.g. '{project}-{date}.pdf'")
    p.add_argument("--template", choices=("full", "executive"), default="full",
                   help="full (default: every section and finding) or executive (2-4 pages)")
    p.add_argument("--format", choices=("pdf", "html"), default=None, help="default: from the file name, else pdf")
    p.add_argument("--min-severity", type=str.upper, choices=SEVERITY_CHOICES, default="LOW")
    p.add_argument("--min-confidence", type=str.upper, choices=SEVERITY_CHOICES, default="LOW")
    p.add_argument("--plugin", action="append", default=[], metavar="ID", help="only this plugin (repeatable)")
    p.add_argument("--status", action="append", default=[], choices=STATUS_CHOICES,
                   help="only findings with this triage status (repeatable)")
    p.add_argument("--weight", action="append", default=[], metavar="PLUGIN=W",
                   help="set a pillar's weight in the overall posture (stored in the project; repeatable)")
    p.add_argument("--unsigned", "--no-sign", dest="no_sign", action="store_true",
                   help="write the report without signing it (no REPORT.sig); also the only way to write a "
                        "report of a project that does not verify")
    p.set_defaults(func=lambda args: cmd_report(args, registry_loader()))

    v = cli.command("verify-report", "check a signed report offline: intact, who signed it, project unchanged")
    v.add_argument("report", nargs="?")
    v.add_argument("-p", "--project", help="the project the report was made from: does it still match?")
    v.add_argument("--public-key", help="the signer's public key (PEM), as exported with --export-public-key")
    v.add_argument("--export-public-key", metavar="FILE", help="write this user's report-signing public key (PEM)")
    v.set_defaults(func=cmd_verify_report)


def ensure_headless_qt() -> None:
    """PDF rendering needs a QGuiApplication; with no display use the offscreen platform."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def output_name(pattern: str, project_name: str, template: str, now: _dt.datetime | None = None) -> str:
    """Fill {project}, {date}, {time} and {template} into a file-name pattern; the project name is
    made safe for a file name (letters, digits, '-', '_', '.')."""
    now = now or _dt.datetime.now()
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", project_name).strip("-.") or "project"
    fields = {"project": safe, "date": now.strftime("%Y-%m-%d"), "time": now.strftime("%H%M%S"),
              "template": template}
    try:
        return re.sub(r"\{(\w+)\}", lambda m: fields[m.group(1)], pattern)
    except KeyError as exc:
        from workbench.core.errors import WorkbenchError

        raise WorkbenchError(f"{pattern}: unknown field {{{exc.args[0]}}} in the file name; "
                             f"use {{project}}, {{date}}, {{time}} or {{template}}") from None


def _parse_weights(items: list[str]) -> dict[str, float]:
    from workbench.core.errors import WorkbenchError

    out = {}
    for item in items:
        pid, sep, value = item.partition("=")
        try:
            out[pid.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not pid.strip():
            raise WorkbenchError(f"--weight {item!r}: expected PLUGIN=NUMBER, e.g. code_audit=2")
    return out


def _can_write(path: Path) -> bool:
    # Checked first so that a project on read-only media is never touched (no lock file appears).
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def _log_report(project_path: Path, message: str, data: dict) -> str | None:
    """Add the report to the project's audit log (opening it writable briefly); a warning when
    that is impossible (read-only file or media, another workbench writing)."""
    from workbench.core.errors import WorkbenchError
    from workbench.core.project import Project

    if not _can_write(project_path):
        return "the project is read-only, so this report is not recorded in its audit log"
    try:
        with Project.open(project_path) as project:
            project.log_event("report", message, data=data)
    except (WorkbenchError, OSError) as exc:
        return f"this report is not recorded in the project's audit log: {exc}"
    return None


def cmd_report(args, registry) -> int:
    from workbench.core.errors import WorkbenchError
    from workbench.core.project import Project
    from workbench.core.report import ReportOptions, set_score_weights

    template = getattr(args, "template", "full")
    try:
        options = ReportOptions(template=template, min_severity=getattr(args, "min_severity", "LOW"),
                                min_confidence=getattr(args, "min_confidence", "LOW"),
                                plugins=list(getattr(args, "plugin", []) or []),
                                statuses=list(getattr(args, "status", []) or []))
    except ValueError as exc:
        raise WorkbenchError(str(exc)) from exc
    known = {p.id for p in registry.plugins} if registry is not None else set()
    unknown = [p for p in options.plugins if p not in known]
    if unknown:
        raise WorkbenchError(f"--plugin {', '.join(unknown)}: no such plugin (loaded: {', '.join(sorted(known))})")
    weights = _parse_weights(getattr(args, "weight", []) or [])
    if weights:
        bad = [p for p in weights if p not in known]
        if bad:
            raise WorkbenchError(f"--weight {', '.join(bad)}: no such plugin")
        with Project.open(args.project) as project:
            set_score_weights(project, weights)

    sign = not getattr(args, "no_sign", False)
    _adopt_copy(Path(args.project))
    with Project.open(args.project, readonly=True) as project:
        project_path = Path(project.path)
        output = Path(output_name(args.output, project.name, template))
        fmt = getattr(args, "format", None) or ("html" if output.suffix.lower() in (".html", ".htm") else "pdf")
        written = write_report(project, registry, output, options, fmt=fmt, sign=sign)
    report, what, sig, identity, reason, digest = (written[k] for k in ("report", "what", "sig", "identity",
                                                                         "reason", "content_sha256"))
    print(f"wrote {output} ({what}, {template}, project state sha256 {report.state_sha256[:16]}…)")
    if sig:
        print(f"signed by {identity['signer']} (key {identity['fingerprint']}): {sig}")
    else:
        print(f"warning: not signed: {reason}", file=sys.stderr)
    for problem in report.problems:
        print(f"warning: the report is incomplete: {problem} (said in the report where the section belongs)",
              file=sys.stderr)
    warning = _log_report(project_path, f"{fmt.upper()} report ({template}) written to {output.name}",
                          {"state_sha256": report.state_sha256, "content_sha256": digest, "template": template,
                           "format": fmt, "filters": options.describe(), "signed": bool(sig),
                           **({"problems": report.problems} if report.problems else {})})
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    return 1 if report.problems else 0


def _adopt_copy(path: Path) -> None:
    """Open the project once for writing when that is possible: a copied file takes its own project
    id now, before the state hash is taken, so that its first report describes the file as it stays
    (otherwise the next writable open changes the id, and the report names "a different project")."""
    from workbench.core.errors import WorkbenchError
    from workbench.core.project import Project

    if not path.is_file() or not _can_write(path):
        return
    try:
        Project.open(path).close()
    except (WorkbenchError, OSError):
        pass  # open elsewhere (that writer adopted it), or unreadable: the read-only open says why


def write_report(project, registry, output: Path, options=None, *, fmt: str = "pdf", sign: bool = True) -> dict:
    """Build, render and sign one report of an open project (the CLI and the window share it).

    Returns {report, what, sig (path or None), identity, reason (why unsigned), content_sha256,
    pages}. Logging it is the caller's: the window holds the project open for writing, the CLI
    opens it briefly."""
    from workbench.core.errors import WorkbenchError
    from workbench.core.report import build_report, content_sha256

    identity, reason = None, ""
    chain = project.verify_events()
    if sign:
        # A signature vouches for the project: never for one whose audit log does not hold.
        if not chain.ok:
            raise WorkbenchError(f"{project.path}: does not verify ({chain.message}); refusing to sign a report "
                                 "of it. Restore it from a backup, or pass --unsigned to write a report that "
                                 "says it is unsigned")
        identity = _signing_identity_or_explain()
    else:
        reason = "signing was turned off (--unsigned)"
    report = build_report(project, registry, options, chain=chain)
    digest = content_sha256(report)
    report.signature = {"content_sha256": digest, **(identity or {}), **({"unsigned_reason": reason} if reason else {})}
    ensure_headless_qt()
    pages = None
    try:
        if fmt == "html":
            from workbench.render.pdf import render_html

            render_html(report, output)
            what = "HTML"
        else:
            from workbench.render.pdf import render_pdf

            pages = render_pdf(report, output)
            what = f"{pages} pages"
    except OSError as exc:
        raise WorkbenchError(str(exc)) from exc
    sig = None
    if identity:
        from workbench.render.signing import sign_report_file

        sig = sign_report_file(output, content_sha256=digest, state_sha256=report.state_sha256,
                               project_id=report.project_id, project_name=report.project_name,
                               generated=report.generated, template=report.template,
                               events_head=report.events_head)
    return {"report": report, "what": what, "sig": sig, "identity": identity, "reason": reason,
            "content_sha256": digest, "pages": pages}


def _signing_identity_or_explain() -> dict:
    """This user's signing identity, or a WorkbenchError that says what is wrong and the way forward:
    a report that was asked to be signed is never written unsigned in silence."""
    from workbench.core.errors import WorkbenchError
    from workbench.core.secrets import PASSPHRASE_ENV, SecretsLockedError, WrongPassphraseError
    from workbench.render.signing import signing_identity

    unsigned = "or pass --unsigned to write the report without a signature"
    try:
        return signing_identity(create=True)
    except WrongPassphraseError as exc:
        raise WorkbenchError(f"cannot sign: the passphrase of the encrypted secrets file is wrong ({exc}); give "
                             f"the right one ({PASSPHRASE_ENV}, or type it in a terminal), {unsigned}") from None
    except SecretsLockedError as exc:
        raise WorkbenchError(f"cannot sign: the secrets backend that holds the signing key is locked ({exc}); "
                             f"unlock it, {unsigned}") from None
    except Exception as exc:  # no keyring backend at all: its message names what to install
        raise WorkbenchError(f"cannot sign: no signing key ({type(exc).__name__}: {exc}); "
                             f"set up a secrets backend (`workbench secret backend`), {unsigned}") from None


def cmd_verify_report(args) -> int:
    from workbench.core.cli_kit import CliError
    from workbench.core.errors import WorkbenchError
    from workbench.render.signing import describe_verification, export_public_key, verify_report

    if args.export_public_key:
        ident = export_public_key(args.export_public_key)
        print(f"wrote {args.export_public_key}: public key of {ident['signer']} (fingerprint {ident['fingerprint']})")
        if not args.report:
            return 0
    if not args.report:
        raise CliError("give a REPORT to verify (or --export-public-key FILE)")
    try:
        result = verify_report(args.report, project_path=args.project, public_key_file=args.public_key)
    except OSError as exc:
        raise WorkbenchError(str(exc)) from exc
    for line in describe_verification(result):
        print(line)
    return 0 if result["ok"] else 1
