"""Re-identification risk figures, computed by hand on a small table."""

import pytest

from workbench_plugins.anonymise.reader import read_table
from workbench_plugins.anonymise.risk import risk_profile


def _t(tmp_path, name, rows):
    p = tmp_path / name
    p.write_text("zip,sex\n" + "\n".join(rows) + "\n")
    return read_table(p)


def test_prosecutor_risk_and_histogram(tmp_path):
    # classes: (1,M) x3, (1,F) x1, (2,M) x2  -> sizes 3,1,2
    t = _t(tmp_path, "s.csv", ["1,M", "1,M", "1,M", "1,F", "2,M", "2,M"])
    r = risk_profile(t, ["zip", "sex"], threshold=0.4)
    assert r["classes"] == 3
    assert r["prosecutor"]["highest"] == 1.0
    assert r["prosecutor"]["average"] == pytest.approx(3 / 6)
    assert r["prosecutor"]["records_at_risk"] == pytest.approx(3 / 6)  # risks 1 and 1/2 > 0.4
    assert r["sample_uniqueness"] == pytest.approx(1 / 6)
    assert r["journalist"] == r["prosecutor"]
    assert r["p_reidentification"] == pytest.approx(0.5)
    hist = {h["sizes"]: (h["classes"], h["records"]) for h in r["histogram"]}
    assert hist["1"] == (1, 1) and hist["2"] == (1, 2) and hist["3-4"] == (1, 3)


def test_journalist_and_marketer_with_population(tmp_path):
    sample = _t(tmp_path, "s.csv", ["1,M", "1,F", "2,M"])
    pop = _t(tmp_path, "p.csv", ["1,M"] * 4 + ["1,F"] * 2 + ["2,M"] * 1 + ["3,F"] * 5)
    r = risk_profile(sample, ["zip", "sex"], population=pop)
    assert r["prosecutor"]["average"] == 1.0
    assert r["journalist"]["highest"] == 1.0  # (2,M) is unique in the population
    assert r["journalist"]["average"] == pytest.approx((1 / 4 + 1 / 2 + 1) / 3)
    assert r["marketer"]["average"] == pytest.approx((1 / 4 + 1 / 2 + 1) / 3)
