"""Detection on generated data with known column types; precision/recall per type printed."""

from collections import Counter

import pytest
from faker import Faker

from workbench_plugins.anonymise import detect as D

LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "nl_NL", "es_ES"]
N = 150


def _columns(fake: Faker, us: Faker):
    return {
        "person_name": [fake.name() for _ in range(N)],
        "email": [fake.email() for _ in range(N)],
        "phone": [fake.phone_number() for _ in range(N)],
        "national_id": [us.ssn() for _ in range(N)],
        "iban": [fake.iban() for _ in range(N)],
        "credit_card": [fake.credit_card_number() for _ in range(N)],
        "ip_address": [fake.ipv4() if i % 3 else fake.ipv6() for i in range(N)],
        "mac_address": [fake.mac_address() for _ in range(N)],
        "url": [fake.url() for _ in range(N)],
        "date_of_birth": [fake.date_of_birth(minimum_age=18).isoformat() for _ in range(N)],
        "postcode": [fake.postcode() for _ in range(N)],
        "free_text_pii": [f"{fake.sentence()} Please call {us.first_name()} {us.last_name()} on "
                          f"{fake.phone_number()} or write to {fake.email()}." if i % 2 else
                          f"{fake.sentence()} Refund to {fake.iban()}." for i in range(N)],
        "other": [fake.word() for _ in range(N)],
        "other_amount": [f"{fake.pyfloat(left_digits=3, right_digits=2, positive=True)}" for _ in range(N)],
        "other_status": [fake.random_element(["open", "closed", "pending"]) for _ in range(N)],
    }


def _truth(col):
    return "other" if col.startswith("other") else col


def test_detection_precision_recall_per_type(capsys):
    predicted, actual = [], []
    for i, loc in enumerate(LOCALES):
        fake, us = Faker(loc), Faker("en_US")
        fake.seed_instance(100 + i)
        us.seed_instance(200 + i)
        for j, (col, values) in enumerate(_columns(fake, us).items()):
            # once under a neutral name (values only), once under a telling name
            for name in (f"c{j}", col.replace("_", " ")):
                d = D.detect_column(name, values)
                predicted.append(d.entity if d.entity != "free_text" else "other")
                actual.append(_truth(col))
                assert 0.0 <= d.confidence <= 1.0
    types = sorted(set(actual))
    tp = Counter(p for p, a in zip(predicted, actual) if p == a)
    pc, ac = Counter(predicted), Counter(actual)
    lines = [f"{'type':15} {'precision':>9} {'recall':>7} {'n':>4}"]
    worst_recall, worst_precision = 1.0, 1.0
    for t in types:
        prec = tp[t] / pc[t] if pc[t] else 0.0
        rec = tp[t] / ac[t]
        lines.append(f"{t:15} {prec:9.2f} {rec:7.2f} {ac[t]:4d}")
        worst_recall, worst_precision = min(worst_recall, rec), min(worst_precision, prec)
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    # postcodes that are bare digits are only recognised when the column name says so
    rec = {t: tp[t] / ac[t] for t in types}
    assert rec["postcode"] >= 0.5
    assert all(rec[t] >= 0.9 for t in types if t != "postcode"), rec
    assert worst_precision >= 0.85


def test_free_text_spans_and_scrub():
    text = ("Ticket from John Smith (john.smith@example.org, +44 20 7946 0958): card "
            "4111 1111 1111 1111 was charged; IBAN GB82 WEST 1234 5698 7654 32; host 10.0.0.12, "
            "SSN 123-45-6789, see https://example.org/x?id=7.")
    found = {t for _, _, t in D.find_pii_spans(text)}
    assert found == {"person_name", "email", "phone", "credit_card", "iban", "ip_address",
                     "national_id", "url"}
    scrubbed, n = D.scrub_text(text)
    assert n == 8
    for secret in ("John Smith", "john.smith", "7946", "4111", "GB82", "10.0.0.12", "6789", "example.org/x"):
        assert secret not in scrubbed


@pytest.mark.parametrize("value,ok", [("GB82WEST12345698765432", True), ("GB82WEST12345698765433", False),
                                      ("DE89 3704 0044 0532 0130 00", True)])
def test_iban_checksum(value, ok):
    assert D.iban_ok(value) is ok


def test_luhn_and_validators():
    assert D.card_ok("4111-1111-1111-1111") and not D.card_ok("4111-1111-1111-1112")
    assert D.ip_ok("2001:db8::1") and not D.ip_ok("300.1.1.1")
    assert D.name_ok("Dr. Anna Müller") and not D.name_ok("closed")
