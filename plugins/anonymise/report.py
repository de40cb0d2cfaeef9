"""The anonymisation section of the report: data, never Qt."""

from __future__ import annotations

from workbench.api import BarChart, KeyValues, Paragraph, Section, Table

from .score import p_given_release


def report_sections(store, options: dict | None = None) -> list:
    runs = store.latest_runs("anonymise")
    if not runs:
        return [Section("Anonymisation", [Paragraph("Not assessed: no dataset has been anonymised.")],
                        "anonymise")]
    blocks = [Paragraph(
        "P(A|D), the probability that a record is re-identified given the release, is the average "
        "over released records of 1/f, f being the number of released records that share the "
        "record's quasi-identifier values (an attacker who knows them picks one of the f at random). "
        "Verification re-reads each output as written: no original direct identifier may appear, the "
        "privacy models are recomputed, and a linkage attack from the original quasi-identifiers "
        "must not single out fewer than k records.")]
    for run in runs:
        s = run.get("summary") or {}
        before, after = s.get("risk_before") or {}, s.get("risk_after") or {}
        items = [("Dataset", str(s.get("input"))), ("Output", str(s.get("output"))),
                 ("Rows in / out", f"{s.get('rows_in')} / {s.get('rows_out')}"),
                 ("Models", ", ".join(s.get("models") or []) or "none"),
                 ("Transforms", ", ".join(f"{c}: {t['transform']}" for c, t in (s.get("transforms") or {}).items())
                  or "none")]
        if s.get("levels"):
            items += [("Generalisation levels", ", ".join(f"{k}={v}" for k, v in s["levels"].items())),
                      ("Suppressed rows", str(s.get("suppressed_rows"))),
                      (f"Information loss ({s.get('metric')})", f"{s.get('information_loss'):.4f}"),
                      ("P(A|D) before / after", f"{before.get('p_reidentification', 0):.4f} / "
                                                 f"{p_given_release(s) or 0:.4f}")]
            if s.get("hierarchies"):
                items.append(("Hierarchies", "; ".join(
                    f"{c}: {h.get('source')}{' ' + h['kind'] if h.get('kind') else ''}, {h.get('levels')} levels"
                    for c, h in s["hierarchies"].items())))
        if s.get("detected_sensitive"):
            items.append(("Detected as sensitive", ", ".join(s["detected_sensitive"])))
        if s.get("encrypted_to"):
            items.append(("Output encrypted to", ", ".join(s["encrypted_to"])))
        if s.get("key_ids"):
            items.append(("Keys used (ids)", ", ".join(f"{k}={v}" for k, v in s["key_ids"].items())))
        blocks.append(KeyValues(items))
        if before and after:
            rows = []
            for model in ("prosecutor", "journalist"):
                for what in ("highest", "average", "records_at_risk"):
                    rows.append([model, what.replace("_", " "), f"{before[model][what]:.4f}",
                                 f"{after[model][what]:.4f}"])
            rows.append(["marketer", "average", f"{before['marketer']['average']:.4f}",
                         f"{after['marketer']['average']:.4f}"])
            rows.append(["sample uniqueness", "", f"{before['sample_uniqueness']:.4f}",
                         f"{after['sample_uniqueness']:.4f}"])
            blocks.append(Table(["Attacker", "Measure", "Before", "After"], rows,
                                caption=f"Re-identification risk (threshold {after.get('threshold')})"))
            blocks.append(class_size_chart(before, after))
        access = store.query("SELECT name, role, granted_at, revoked_at FROM anonymise_access WHERE run_id=?",
                             (run["id"],))
        if access:
            blocks.append(Table(["Who", "Role", "Granted", "Revoked"],
                                [[a["name"], a["role"], a["granted_at"], a["revoked_at"] or ""] for a in access],
                                caption="Access list of the encrypted output"))
        checks = s.get("verification") or []
        blocks.append(Table(["Check", "Result", "Detail"],
                            [[c["name"], "passed" if c["ok"] else "FAILED", c["detail"]] for c in checks],
                            caption="Verification of the written output"))
    return [Section("Anonymisation", blocks, "anonymise")]


BEFORE, AFTER = "#c0504d", "#2e75b6"


def risk_chart(before: dict, after: dict) -> BarChart:
    """The headline risk figures (probabilities, 0-1) before and after, side by side."""
    def figures(r):
        return [r["p_reidentification"], r["prosecutor"]["highest"], r["journalist"]["highest"],
                r["prosecutor"]["records_at_risk"], r["sample_uniqueness"]]

    return BarChart("Re-identification risk (probability)",
                    ["P(A|D)", "Prosecutor max", "Journalist max", "At risk", "Unique"],
                    {"before": figures(before), "after": figures(after)}, stacked=False,
                    colors={"before": BEFORE, "after": AFTER})


def class_size_chart(before: dict, after: dict) -> BarChart:
    """Records by equivalence-class size before and after, on one axis."""
    return BarChart("Records by equivalence-class size", [h["sizes"] for h in before["histogram"]],
                    {"before": [float(h["records"]) for h in before["histogram"]],
                     "after": [float(h["records"]) for h in after["histogram"]]}, stacked=False,
                    colors={"before": BEFORE, "after": AFTER})


def run_html(run: dict) -> str:
    """A stored anonymise run as the tab shows it: input and output, the policy it ran (models,
    quasi-identifiers with their hierarchies and levels, transforms), risk before and after, and the
    verification of the written output."""
    import html
    import os

    s, esc = run.get("summary") or {}, lambda v: html.escape(str(v))
    before, after = s.get("risk_before"), s.get("risk_after")
    levels = ", ".join(f"{esc(c)}={v}" for c, v in (s.get("levels") or {}).items())
    qis = "; ".join(f"{esc(c)} {esc(h.get('source'))}{' ' + esc(h['kind']) if h.get('kind') else ''} "
                    f"({h.get('levels')} levels)" for c, h in (s.get("hierarchies") or {}).items())
    transforms = ", ".join(f"{esc(c)}: {esc(t.get('transform'))}" for c, t in (s.get("transforms") or {}).items()
                           if t.get("transform") not in (None, "keep"))
    parts = [f"<b>Run #{run.get('id')}</b> ({esc(run.get('status'))}): <b>{esc(os.path.basename(str(s.get('input'))))}"
             f"</b> → {esc(s.get('output'))}; {s.get('rows_in')} rows in, {s.get('rows_out')} out",
             f"Policy: {esc(', '.join(s.get('models') or []) or 'no privacy model')}; "
             f"transforms: {transforms or 'none'}"]
    if qis:
        parts.append(f"Hierarchies: {qis}")
    if before and after:
        parts.append(f"Levels: {levels}; suppressed {s.get('suppressed_rows')} rows; {esc(s.get('metric'))} "
                     f"{s.get('information_loss') or 0:.4f}")
        parts.append(f"P(A|D) {before['p_reidentification']:.4f} → <b>{after['p_reidentification']:.4f}</b>; "
                     f"highest prosecutor risk {before['prosecutor']['highest']:.3f} → "
                     f"{after['prosecutor']['highest']:.3f}; sample uniqueness {before['sample_uniqueness']:.3f} → "
                     f"{after['sample_uniqueness']:.3f}")
    else:
        parts.append("No quasi-identifiers in this run: no re-identification risk to compare.")
    checks = "".join(f"<li>{'✔' if c['ok'] else '✘'} {esc(c['name'])}: {esc(c['detail'])}</li>"
                     for c in s.get("verification") or [])
    return "<br>".join(parts) + (f"<ul>{checks}</ul>" if checks else "")
