"""Import of JUnit/xUnit XML from other tools, Cobertura coverage, and hostile files."""

from __future__ import annotations

import pytest

from workbench_plugins.testing import coverage_data, junit
from workbench_plugins.testing.errors import ImportFileError

GO_JUNIT_REPORT = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="3" failures="1">
  <testsuite name="example.com/shop/cart" tests="3" failures="1" errors="0" id="0" hostname="ci" time="0.012" timestamp="2026-01-01T00:00:00Z">
    <properties><property name="go.version" value="go1.23.1"></property></properties>
    <testcase name="TestAdd" classname="example.com/shop/cart" time="0.001"></testcase>
    <testcase name="TestRemove" classname="example.com/shop/cart" time="0.010">
      <failure message="Failed" type="">cart_test.go:42: expected 1 item, got 2</failure>
    </testcase>
    <testcase name="TestLater" classname="example.com/shop/cart" time="0.000">
      <skipped message="cart_test.go:50: needs a database"></skipped>
    </testcase>
  </testsuite>
</testsuites>
"""

JEST_JUNIT = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="jest tests" tests="3" failures="1" errors="0" time="1.2">
  <testsuite name="src/price.test.js" errors="0" failures="1" skipped="0" timestamp="2026-01-01T00:00:00" time="0.9" tests="2">
    <testcase classname="price rounds half up" name="price rounds half up" time="0.004"></testcase>
    <testcase classname="price handles tax" name="price handles tax" time="0.002">
      <failure>Error: expect(received).toBe(expected) // Object.is equality

Expected: 12
Received: 11</failure>
    </testcase>
  </testsuite>
  <testsuite name="src/auth.test.js" errors="1" failures="0" skipped="0" time="0.1" tests="1">
    <testcase classname="auth login" name="auth login" time="0.1">
      <error message="TypeError: cannot read token">TypeError: cannot read token of undefined</error>
    </testcase>
  </testsuite>
</testsuites>
"""

SUREFIRE_NESTED = """<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="com.acme.AllTests" tests="2">
  <testsuite name="com.acme.ParserTest" tests="2">
    <testcase name="parsesEmpty" classname="com.acme.ParserTest" time="0.003">
      <flakyFailure message="timeout" type="java.lang.AssertionError">first try failed</flakyFailure>
    </testcase>
    <testcase name="parsesNested" classname="com.acme.ParserTest" time="0.01"/>
  </testsuite>
</testsuite>
"""

XUNIT_NET = """<?xml version="1.0" encoding="utf-8"?>
<assemblies>
  <assembly name="Acme.Tests.dll" total="3" passed="1" failed="1" skipped="1">
    <collection name="Pricing" total="3">
      <test name="Acme.Tests.PriceTests.RoundsUp" type="Acme.Tests.PriceTests" method="RoundsUp" time="0.01" result="Pass"/>
      <test name="Acme.Tests.PriceTests.Taxes" type="Acme.Tests.PriceTests" method="Taxes" time="0.02" result="Fail">
        <failure exception-type="Xunit.Sdk.EqualException"><message>Assert.Equal() Failure: Expected 12, Actual 11</message><stack-trace>at Acme.Tests.PriceTests.Taxes()</stack-trace></failure>
      </test>
      <test name="Acme.Tests.PriceTests.Later" type="Acme.Tests.PriceTests" method="Later" time="0" result="Skip"><reason>not yet</reason></test>
      <test name="Acme.Tests.PriceTests.Explicit" type="Acme.Tests.PriceTests" method="Explicit" time="0" result="NotRun"><reason>explicit only</reason></test>
      <test name="Acme.Tests.PriceTests.Crashed" type="Acme.Tests.PriceTests" method="Crashed" time="0" result="Bogus"/>
    </collection>
  </assembly>
</assemblies>
"""

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<testsuites><testsuite name="x"><testcase classname="a" name="&lol9;"/></testsuite></testsuites>
"""


def cases_of(tmp_path, text, name="report.xml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    found = []
    totals = junit.import_junit(str(path), sink=found.extend)
    return {c["id"]: c for c in found}, totals


def test_go_junit_report(tmp_path):
    cases, totals = cases_of(tmp_path, GO_JUNIT_REPORT)
    assert {i: c["outcome"] for i, c in cases.items()} == {
        "example.com/shop/cart::TestAdd": "passed",
        "example.com/shop/cart::TestRemove": "failed",
        "example.com/shop/cart::TestLater": "skipped",
    }
    assert "expected 1 item, got 2" in cases["example.com/shop/cart::TestRemove"]["message"]
    assert cases["example.com/shop/cart::TestRemove"]["duration"] == pytest.approx(0.010)
    assert (totals["tests"], totals["passed"], totals["failed"], totals["skipped"]) == (3, 1, 1, 1)


def test_jest_junit(tmp_path):
    cases, totals = cases_of(tmp_path, JEST_JUNIT)
    assert cases["price handles tax::price handles tax"]["outcome"] == "failed"
    assert "Received: 11" in cases["price handles tax::price handles tax"]["message"]
    assert cases["auth login::auth login"]["outcome"] == "error"
    assert (totals["tests"], totals["passed"], totals["failed"], totals["errors"]) == (3, 1, 1, 1)


def test_surefire_nested_suites_and_flaky_failures(tmp_path):
    cases, totals = cases_of(tmp_path, SUREFIRE_NESTED)
    empty = cases["com.acme.ParserTest::parsesEmpty"]
    assert (empty["outcome"], empty["flaky"]) == ("passed", True)
    assert cases["com.acme.ParserTest::parsesNested"]["flaky"] is False
    assert totals["flaky"] == 1


def test_xunit_net_v2(tmp_path):
    cases, totals = cases_of(tmp_path, XUNIT_NET)
    assert {i: c["outcome"] for i, c in cases.items()} == {
        "Acme.Tests.PriceTests.RoundsUp": "passed",
        "Acme.Tests.PriceTests.Taxes": "failed",
        "Acme.Tests.PriceTests.Later": "skipped",
        "Acme.Tests.PriceTests.Explicit": "skipped",  # xUnit.net v3's NotRun (an explicit-only test): a skip
        "Acme.Tests.PriceTests.Crashed": "error",     # a result we do not know stays an error
    }
    assert "Expected 12, Actual 11" in cases["Acme.Tests.PriceTests.Taxes"]["message"]
    assert cases["Acme.Tests.PriceTests.Later"]["message"] == "not yet"


def test_secrets_in_imported_failure_messages_are_masked(tmp_path):
    key = "sk-proj-" + "Q" * 40
    text = GO_JUNIT_REPORT.replace("expected 1 item, got 2", f"request with {key} failed")
    cases, _ = cases_of(tmp_path, text)
    message = cases["example.com/shop/cart::TestRemove"]["message"]
    assert key not in message and "request with sk-pro" in message


def test_billion_laughs_is_refused(tmp_path):
    path = tmp_path / "lol.xml"
    path.write_text(BILLION_LAUGHS)
    with pytest.raises(ImportFileError, match=r"lol\.xml: refused: the file declares XML entities"):
        junit.import_junit(str(path))


def test_not_xml(tmp_path):
    path = tmp_path / "results.xml"
    path.write_text("PASS src/a.test.js\nFAIL src/b.test.js\n")
    with pytest.raises(ImportFileError, match=r"results\.xml: not well-formed XML at line 1, column 0"):
        junit.import_junit(str(path))


def test_truncated_xml_names_the_line(tmp_path):
    path = tmp_path / "cut.xml"
    path.write_text(GO_JUNIT_REPORT[: GO_JUNIT_REPORT.index("<testcase name=\"TestLater\"")])
    found = []
    with pytest.raises(ImportFileError, match=r"cut\.xml: not well-formed XML at line 9"):
        junit.import_junit(str(path), sink=found.extend)


def test_huge_file_is_refused_with_its_size(tmp_path):
    path = tmp_path / "huge.xml"
    path.write_text(GO_JUNIT_REPORT)
    with pytest.raises(ImportFileError, match=r"huge\.xml: 773 bytes is more than the 512 bytes limit"):
        junit.import_junit(str(path), max_bytes=512)


def test_wrong_root_and_empty_report(tmp_path):
    path = tmp_path / "pom.xml"
    path.write_text("<project><modelVersion>4.0.0</modelVersion></project>")
    with pytest.raises(ImportFileError, match=r"pom\.xml: not a JUnit/xUnit report \(root element <project>"):
        junit.import_junit(str(path))
    empty = tmp_path / "empty.xml"
    empty.write_text("<testsuites></testsuites>")
    with pytest.raises(ImportFileError, match="no test cases"):
        junit.import_junit(str(empty))
    with pytest.raises(ImportFileError, match="no such file"):
        junit.import_junit(str(tmp_path / "absent.xml"))


def test_one_hundred_thousand_cases_stream_in_batches(tmp_path):
    path = tmp_path / "big.xml"
    with open(path, "w") as fh:
        fh.write("<testsuites>")
        for s in range(100):
            fh.write(f'<testsuite name="s{s}">')
            for i in range(1000):
                body = '<failure message="no">x</failure>' if i == 7 else ""
                fh.write(f'<testcase classname="c{s}" name="t{i}" time="0.001">{body}</testcase>')
            fh.write("</testsuite>")
        fh.write("</testsuites>")
    batches = []
    totals = junit.import_junit(str(path), sink=lambda b: batches.append(len(b)), batch_size=5000)
    assert batches == [5000] * 20
    assert (totals["tests"], totals["failed"], totals["passed"]) == (100_000, 100, 99_900)


COBERTURA = """<?xml version="1.0" ?>
<coverage version="7.6" timestamp="1" lines-valid="6" lines-covered="4" line-rate="0.6667" branches-covered="1" branches-valid="2" branch-rate="0.5" complexity="0">
  <sources><source>/src/shop</source></sources>
  <packages>
    <package name="shop" line-rate="0.6667" branch-rate="0.5" complexity="0">
      <classes>
        <class name="cart.py" filename="shop/cart.py" complexity="0" line-rate="0.6667" branch-rate="0.5">
          <methods/>
          <lines>
            <line number="1" hits="1"/>
            <line number="2" hits="1" branch="true" condition-coverage="50% (1/2)" missing-branches="4"/>
            <line number="3" hits="1"/>
            <line number="4" hits="0"/>
            <line number="5" hits="0"/>
            <line number="7" hits="1"/>
          </lines>
        </class>
      </classes>
    </package>
  </packages>
</coverage>
"""


def test_cobertura_import(tmp_path):
    path = tmp_path / "coverage.xml"
    path.write_text(COBERTURA)
    cov = coverage_data.from_cobertura(str(path))
    cart = cov["files"]["shop/cart.py"]
    assert (cart["num_statements"], cart["covered_lines"], cart["num_branches"], cart["covered_branches"]) == (
        6, 4, 2, 1)
    assert cart["missing_ranges"] == [[4, 5]]
    # coverage.py's formula: (covered lines + covered branches) / (lines + branches)
    assert cov["percent_covered"] == pytest.approx(100 * 5 / 8)


def test_cobertura_billion_laughs_and_wrong_root(tmp_path):
    lol = tmp_path / "coverage.xml"
    lol.write_text(BILLION_LAUGHS)
    with pytest.raises(ImportFileError, match="refused: the file declares XML entities"):
        coverage_data.from_cobertura(str(lol))
    junit_file = tmp_path / "junit.xml"
    junit_file.write_text(GO_JUNIT_REPORT)
    with pytest.raises(ImportFileError, match=r"junit\.xml: not a Cobertura coverage file"):
        coverage_data.from_cobertura(str(junit_file))


def test_cobertura_written_by_coverage_py_matches_its_own_percent(tmp_path):
    """A real coverage.py run writes both reports; the Cobertura import agrees with its JSON."""
    import json
    import subprocess

    from .conftest import CALC, CALC_TESTS, COVERAGERC, PYTHON, write_tree

    target = write_tree(tmp_path / "t", {"calc.py": CALC, "tests/test_calc.py": CALC_TESTS,
                                         ".coveragerc": COVERAGERC})
    subprocess.run([PYTHON, "-m", "coverage", "run", "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                   cwd=target, capture_output=True)
    subprocess.run([PYTHON, "-m", "coverage", "xml", "-o", "cov.xml"], cwd=target, check=True, capture_output=True)
    subprocess.run([PYTHON, "-m", "coverage", "json", "-o", "cov.json"], cwd=target, check=True,
                   capture_output=True)
    from_xml = coverage_data.from_cobertura(str(target / "cov.xml"))
    from_json = json.loads((target / "cov.json").read_text())
    assert from_xml["percent_covered"] == pytest.approx(from_json["totals"]["percent_covered"])
    assert from_xml["files"]["calc.py"]["missing_ranges"] == [[10, 10], [14, 16]]
