"""ARX hierarchy files and the hierarchy builders."""

import pytest

from workbench_plugins.anonymise.errors import HierarchyError
from workbench_plugins.anonymise.hierarchy import (Hierarchy, date_hierarchy, interval_hierarchy,
                                                   prefix_hierarchy, read_arx_hierarchy,
                                                   write_arx_hierarchy)


def test_reads_adult_hierarchy(adult_dir):
    h = read_arx_hierarchy(adult_dir / "adult_hierarchy_education.csv")
    assert h.height == 4 and h.domain_size == 16
    assert h.generalise("Bachelors", 1) == "Undergraduate"
    assert h.generalise("Bachelors", 3) == "*"
    assert h.is_tree()


def test_round_trip(tmp_path):
    h = interval_hierarchy([str(a) for a in range(17, 40)], widths=(5, 10))
    write_arx_hierarchy(tmp_path / "age.csv", h)
    back = read_arx_hierarchy(tmp_path / "age.csv")
    assert back.rows == h.rows
    assert back.generalise("37", 1) == "35-39" and back.generalise("37", 2) == "30-39"
    assert back.generalise("37", 3) == "*"


def test_ragged_and_duplicate_rows_name_the_line(tmp_path):
    p = tmp_path / "h.csv"
    p.write_text("a;x;*\nb;x\n")
    with pytest.raises(HierarchyError, match=r"h.csv, line 2: row has 2 levels"):
        read_arx_hierarchy(p)
    p.write_text("a;x;*\nb;x;*\na;y;*\n")
    with pytest.raises(HierarchyError, match=r"line 3: value 'a' appears twice"):
        read_arx_hierarchy(p)
    p.write_text("")
    with pytest.raises(HierarchyError, match="empty"):
        read_arx_hierarchy(p)


def test_missing_value_is_named():
    h = Hierarchy([["a", "*"], ["b", "*"]], source="h.csv")
    with pytest.raises(HierarchyError, match=r"'zz'"):
        h.check_covers(["a", "zz"], "col")


def test_date_and_prefix_builders():
    d = date_hierarchy(["1984-03-07", "1991-12-31"])
    assert d.rows[0] == ["1984-03-07", "1984-03", "1984", "1980-1989", "*"]
    with pytest.raises(HierarchyError, match="not an ISO date"):
        date_hierarchy(["07/03/1984x"])
    p = prefix_hierarchy(["12345", "12399", "9876"])
    assert p.generalise("12345", 1) == "1234*" and p.generalise("12345", 3) == "12***"
    assert p.generalise("9876", 1) == "9876*" and p.generalise("9876", p.height - 1) == "*"
    assert p.is_tree()
