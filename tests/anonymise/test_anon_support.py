"""A support table of our own, several locales, notes that mention the row's person: the detected
policy anonymises it and writes it, with no original identifier left in the output or the project."""

import csv
import json
import random
import re

import pytest

DIRECT = ["ticket_ref", "customer_id", "full_name", "email", "phone", "national_id", "iban", "card", "ip"]
PARTICLES = {"del", "von", "van", "der", "den", "de", "la", "le", "ii", "iii", "jr", "sr", "mr", "mrs"}


def make_support_table(path, n=300, seed=7):
    from faker import Faker

    locales = ["en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "en_US"]
    fakers = {loc: Faker(loc) for loc in locales}
    for i, f in enumerate(fakers.values()):
        f.seed_instance(seed + i)
    rnd = random.Random(seed)
    notes = ["Customer {first} asked for a refund.", "{first} {last} called about the invoice; call back on {phone}.",
             "Spoke to {first} about card {card}.", "Refund sent to {iban} for {first}.",
             "Mr {last} complained; email {email}", "Ticket raised by {first}, id {cid}.",
             "{first} says the login from {ip} was not them."]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["ticket_ref", "customer_id", "full_name", "email", "phone", "national_id", "iban", "card",
                    "ip", "signup_date", "postcode", "job_title", "notes"])
        for i in range(n):
            f = fakers[locales[i % len(locales)]]
            first, last = f.first_name(), f.last_name()
            email = f"{first}.{last}{rnd.randint(1, 99)}@{f.free_email_domain()}".lower().replace(" ", "")
            iban = f.iban()
            if i % 5 == 0:  # a wrong check digit: still somebody's bank account
                iban = iban[:2] + ("00" if iban[2:4] != "00" else "01") + iban[4:]
            v = {"first": first, "last": last, "phone": f.phone_number(), "card": f.credit_card_number(),
                 "iban": iban, "email": email, "cid": f"CUST-{100000 + rnd.randint(0, 899999)}-{i:04d}",
                 "ip": f.ipv4_public()}
            w.writerow([f"T{i:05d}", v["cid"], f"{first} {last}", email, v["phone"], f.ssn(), iban, v["card"],
                        v["ip"], f.date_between("-5y", "today").isoformat(), f.postcode(), f.job(),
                        rnd.choice(notes).format(**v)])


def leaks(text, rows, names_only=False):
    """Original direct-identifier values in `text`: case-insensitive anywhere, digits-only (7+ digits, on
    token boundaries, so a hex pseudonym's digits do not count), and each name token as a whole word."""
    low = text.casefold()
    found = []
    if not names_only:
        runs = {re.sub(r"\D", "", m) for m in
                re.findall(r"(?<![0-9a-z])\+?\d[\d\s().\-/]{5,}\d(?![0-9a-z])", low)}
        for r in rows:
            for c in DIRECT:
                v, d = r[c], re.sub(r"\D", "", r[c])
                if v.casefold() in low:
                    found.append((c, v, "case-insensitive"))
                elif len(d) >= 7 and d in runs:
                    found.append((c, v, "digits"))
    words = set(re.findall(r"[^\W\d_]+", low))
    for r in rows:
        for tok in re.findall(r"[^\W\d_]+", r["full_name"].casefold()):
            if len(tok) >= 3 and tok not in PARTICLES and tok in words:
                found.append(("full_name", tok, "name token"))
    return found


@pytest.fixture(scope="module")
def support(tmp_path_factory):
    path = tmp_path_factory.mktemp("support") / "support.csv"
    make_support_table(path)
    with open(path, newline="", encoding="utf-8") as fh:
        return path, list(csv.DictReader(fh))


def test_detection_of_the_support_table(support):
    from workbench_plugins.anonymise.engine import detect_policy
    from workbench_plugins.anonymise.reader import read_table

    path, rows = support
    cols = detect_policy(read_table(path)).columns
    for c in DIRECT:
        assert cols[c]["role"] == "direct_identifier", (c, cols[c])
        assert cols[c]["transform"] != "keep", (c, cols[c])
    assert cols["iban"]["entity"] == "iban"          # a fifth have a wrong check digit
    assert cols["customer_id"]["entity"] == "identifier" and cols["ticket_ref"]["entity"] == "identifier"
    assert cols["job_title"]["role"] == "quasi_identifier"
    assert cols["notes"]["transform"] == "scrub"
    # the checker can fail: the input itself is full of leaks
    text = path.read_text(encoding="utf-8")
    assert len(leaks(text, rows)) > len(rows)


def test_detected_policy_writes_it_with_zero_leaks_in_output_and_project(support, tmp_path, capsys):
    import argparse

    from workbench.core.cli_kit import Commands

    from workbench_plugins.anonymise import plugin

    path, rows = support
    ap = argparse.ArgumentParser(prog="workbench")
    plugin.add_cli(Commands(ap.add_subparsers(dest="command")).for_plugin(plugin))
    out, project, sj = tmp_path / "out.csv", tmp_path / "p.wbproj", tmp_path / "s.json"
    args = ap.parse_args(["anonymise", str(path), "-o", str(out), "-p", str(project), "--summary-json", str(sj)])
    assert args.func(args) == 0
    s = json.loads(sj.read_text())
    assert s["rows_out"] == len(rows) and all(c["ok"] for c in s["verification"])
    with open(out, newline="", encoding="utf-8") as fh:
        written = list(csv.DictReader(fh))
    assert len(written) == len(rows)
    # surrogate names may share a word with some original name; the notes may not
    assert leaks("\n".join(r["notes"] for r in written), rows, names_only=True) == []
    assert [x for x in leaks(out.read_text(encoding="utf-8"), rows) if x[2] != "name token"] == []
    # the notes still say what happened, with the person's details replaced
    assert sum("[PERSON_NAME]" in r["notes"] for r in written) > 0.8 * len(rows)
    blob = b"".join(p.read_bytes() for p in tmp_path.glob("p.wbproj*") if p.is_file())
    text = blob.decode("utf-8", errors="ignore")
    assert [x for x in leaks(text, rows) if x[2] != "name token"] == []
    # and an IBAN with a wrong check digit is tokenised like the others
    assert all(r["iban"].startswith("tok:") for r in written)
