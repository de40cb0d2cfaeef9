"""One policy builder for the CLI and the tab: flag semantics, refusals, automatic hierarchies,
and the token-boundary leak check."""

import argparse

import pytest

from workbench_plugins.anonymise import plugin
from workbench_plugins.anonymise.engine import make_policy
from workbench_plugins.anonymise.errors import AnonymiseError
from workbench_plugins.anonymise.reader import read_table

from .conftest import ADULT_QIS


def _parser():
    from workbench.core.cli_kit import Commands

    ap = argparse.ArgumentParser(prog="workbench")
    plugin.add_cli(Commands(ap.add_subparsers(dest="command")).for_plugin(plugin))
    return ap


@pytest.fixture(scope="module")
def adult_table(adult_dir):
    return read_table(adult_dir / "adult.csv")


def test_a_model_flag_applies_to_the_columns_named_only(adult_dir, adult_table, capsys):
    from workbench_plugins.anonymise.cli import build_policy

    qi = [x for c in ADULT_QIS if c not in ("occupation", "salary-class")
          for x in ("--qi", f"{c}={adult_dir / f'adult_hierarchy_{c}.csv'}")]
    for flag, spec, field in (("--l-diversity", "distinct:3", "l_diversity"),
                              ("--t-closeness", "equal:0.2", "t_closeness")):
        args = _parser().parse_args(["anonymise", str(adult_dir / "adult.csv"), "-o", "x.csv", *qi,
                                     "--sensitive", "occupation", flag, spec])
        pol = build_policy(args)
        assert pol.sensitive == ["occupation"] and getattr(pol, field) == {"occupation": spec}
        assert pol.columns["salary-class"]["role"] == "sensitive"     # detected, and left alone
        assert "salary-class" not in pol.sensitive and "salary-class" not in pol.qi
    # the detected one is reported when the user did not name it
    args = _parser().parse_args(["anonymise", str(adult_dir / "adult.csv"), *qi, "--sensitive", "occupation",
                                 "--l-diversity", "distinct:3", "--detect"])
    assert args.func(args) == 0
    assert "detected as sensitive, not protected by a privacy model unless named with --sensitive: " \
           "salary-class" in capsys.readouterr().err


def test_refusals_are_the_same_words_for_every_caller(adult_table):
    with pytest.raises(AnonymiseError, match="l-diversity needs at least one sensitive column.*salary-class"):
        make_policy(adult_table, l_diversity="distinct:2")
    with pytest.raises(AnonymiseError, match="k = 5 need quasi-identifiers"):
        make_policy(adult_table, roles={c: "other" for c in adult_table.columns}, k=5)
    with pytest.raises(AnonymiseError, match="either a quasi-identifier or sensitive"):
        make_policy(adult_table, qi={"occupation": "auto"}, sensitive=["occupation"], k=2)
    with pytest.raises(AnonymiseError, match="column 'nope'"):
        make_policy(adult_table, qi={"nope": "auto"}, k=2)
    with pytest.raises(AnonymiseError, match="no such file"):
        make_policy(adult_table, qi={"age": "/nonexistent/h.csv"}, k=2)


def test_cli_qi_forms(adult_dir):
    from workbench_plugins.anonymise.cli import build_policy

    args = _parser().parse_args(["anonymise", str(adult_dir / "adult.csv"), "--qi", "age", "--qi", "sex=auto",
                                 "--qi", f"race={adult_dir / 'adult_hierarchy_race.csv'}", "--k", "3"])
    pol = build_policy(args)
    assert pol.qi == {"age": "auto", "sex": "auto", "race": str(adult_dir / "adult_hierarchy_race.csv")}
    # with no --qi at all, a model uses the detected quasi-identifiers, with automatic hierarchies
    args = _parser().parse_args(["anonymise", str(adult_dir / "adult.csv"), "--k", "3"])
    pol = build_policy(args)
    assert "age" in pol.qi and "occupation" in pol.qi and set(pol.qi.values()) == {"auto"}
    assert "salary-class" not in pol.qi


def test_automatic_hierarchies_from_the_data():
    from workbench_plugins.anonymise.hierarchy import auto_hierarchy

    ages = [str(a) for a in range(17, 91)]
    h = auto_hierarchy(ages, "age", "age")
    assert h.kind == "interval" and h.generalise("37", 1) == "30-39" and h.generalise("37", h.height - 1) == "*"
    # each level is coarser than the one below: a value's group only grows
    for lv in range(1, h.height - 1):
        parents = {}
        for row in h.rows:
            assert parents.setdefault(row[lv], row[lv + 1]) == row[lv + 1]
    d = auto_hierarchy(["1984-03-07", "1990-12-31", "1984-03-21"], "date_of_birth", "dob")
    assert d.rows[0] == ["1984-03-07", "1984-03", "1984", "1980-1989", "*"]
    z = auto_hierarchy(["04109", "04103", "20095"], "postcode", "zip")
    assert z.kind == "mask" and z.generalise("04109", 1) == "0410*" and z.generalise("04109", 4) == "0****"
    c = auto_hierarchy(["Berlin", "Köln", None], "location", "city")
    assert c.kind == "category" and c.generalise("Köln", 1) == "*" and c.generalise("", 0) == ""


def test_leak_check_matches_on_token_boundaries():
    from workbench_plugins.anonymise.verify import check_leaks

    originals = {"phone": ["+49 155 1976018", "0155 7654321"]}
    header = ["id", "phone", "note"]
    # masked phones and hex pseudonyms that happen to contain the digits: not leaks
    clean = [["a491551976018c9e", "***********6018", "ref 0x01557654321ff"],
             ["9f2c1557654321ab", "********4321", "Called [PERSON_NAME] on [PHONE]"]]
    assert check_leaks(originals, header, clean)["ok"]
    for cell in ("+49 155 1976018", "491551976018", "call +49-155-1976018 now", "(0155) 765 4321"):
        r = check_leaks(originals, header, [["x", "y", cell]])
        assert not r["ok"], cell


def test_demo_job_anonymises_people_with_the_detected_policy(tmp_path):
    """`workbench demo` runs this job: the Overview and the report then assess privacy."""
    import os
    import shutil

    from workbench.core.jobs import run_in_process
    from workbench.core.plugins import load_plugins
    from workbench.core.project import Project

    from workbench_plugins.anonymise.score import score

    demo = os.path.join(os.path.dirname(__file__), "..", "..", "resources", "demo", "people.csv")
    shutil.copy(demo, tmp_path / "people.csv")
    (spec,) = plugin.demo_jobs(tmp_path)
    pol = spec.params["policy"]
    assert pol["k"] == 5 and {"date_of_birth", "zip", "gender"} <= set(pol["qi"])
    assert set(pol["qi"].values()) == {"auto"}
    registry = load_plugins()
    with Project.create(tmp_path / "d.wbproj", plugins=registry.plugins) as project:
        _, status, summary = run_in_process(project, spec, registry=registry)
        assert status == "done", summary
        assert summary["risk_after"]["prosecutor"]["highest"] <= 0.2
        assert score(project.store("anonymise")) >= 80


def test_adult_with_automatic_hierarchies_end_to_end(adult_dir, adult_table, tmp_path):
    """All nine attributes as `--qi COL` (no file): hierarchies built from the data, the output
    verified 5-anonymous, the hierarchies saved as ARX CSVs that read back to the ones used."""
    from workbench_plugins.anonymise.engine import anonymise_file
    from workbench_plugins.anonymise.hierarchy import auto_hierarchy, read_arx_hierarchy

    pol = make_policy(adult_table, qi={c: "auto" for c in ADULT_QIS}, k=5, suppression=0.04)
    s = anonymise_file(adult_dir / "adult.csv", tmp_path / "a.csv", pol)
    assert all(c["ok"] for c in s["verification"])
    assert s["risk_after"]["prosecutor"]["highest"] <= 0.2 and s["suppressed_rows"] <= 0.04 * 30162
    assert s["hierarchies"]["age"]["kind"] == "interval" and s["hierarchies"]["sex"]["kind"] == "category"
    saved = read_arx_hierarchy(s["hierarchies"]["age"]["file"])
    assert saved.rows == auto_hierarchy(adult_table.values("age"), "age", "age").rows


def test_a_file_over_the_threshold_streams_and_scrubs_with_the_rows_own_identifiers(tmp_path, monkeypatch):
    """Above a few MiB a per-value policy streams (memory flat at any size); free text is scrubbed of
    the row's own name, email and phone in the streamed blocks as in memory. (The threshold is
    lowered here to keep the test small; the shipped one is checked to be a few MiB.)"""
    import csv

    from workbench_plugins.anonymise import engine
    from workbench_plugins.anonymise.engine import anonymise_file

    assert engine.STREAM_THRESHOLD_BYTES <= 8 << 20
    monkeypatch.setattr(engine, "STREAM_THRESHOLD_BYTES", 1 << 20)
    STREAM_THRESHOLD_BYTES = engine.STREAM_THRESHOLD_BYTES
    src = tmp_path / "big.csv"
    firsts = ["Umar", "Rosa", "Elif", "Wim", "Hana", "Ivo"]
    with open(src, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "email", "phone", "notes", "pad"])
        n = 0
        while fh.tell() <= STREAM_THRESHOLD_BYTES + (1 << 16):
            f = firsts[n % len(firsts)]
            phone = f"+49 15{n % 10} {1000000 + n}"
            w.writerow([f"{f} Quist{n}", f"{f.lower()}.quist{n}@example.org", phone,
                        f"Called {f} on {phone.replace(' ', '')}; wrote to {f.lower()}.quist{n}@example.org",
                        "x" * 200])
            n += 1
    D = "direct_identifier"
    pol = make_policy(read_table(src), base=None, transforms={"pad": "keep"})
    pol.columns.update({"name": {"entity": "person_name", "role": D, "transform": "pseudonymise"},
                        "email": {"entity": "email", "role": D, "transform": "pseudonymise"},
                        "phone": {"entity": "phone", "role": D, "transform": "mask"},
                        "notes": {"entity": "free_text_pii", "role": D, "transform": "scrub"}})
    s = anonymise_file(src, tmp_path / "o.csv", pol, {"pseudonym": b"k" * 32})
    assert s["streamed"] and s["rows_out"] == n
    with open(tmp_path / "o.csv", newline="") as fh:
        notes = [r["notes"] for r in csv.DictReader(fh)]
    assert len(notes) == n
    assert not any(f in note for note in notes for f in firsts), [x for x in notes if any(f in x for f in firsts)][:3]
    assert all(note.startswith("Called [PERSON_NAME] on [PHONE]") for note in notes)
