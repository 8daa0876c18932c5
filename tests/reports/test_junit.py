"""JUnit XML: parses, and its counts and outcomes match the stored findings."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import replace

from report_fixtures import HOSTILE, Stored

from assay.checks._registry import Finding, Severity, Status
from assay.reports.junit import WAIVED_MESSAGE


def parse(stored: Stored) -> ET.Element:
    text = stored.render("junit")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    return ET.fromstring(text)


def outcome(case: ET.Element) -> str:
    children = [c.tag for c in case]
    return children[0] if children else "passed"


def test_counts_match_the_findings(stored: Stored) -> None:
    root = parse(stored)
    statuses = Counter(f.status for f in stored.run.findings)
    cases = root.findall("testsuite/testcase")
    assert root.tag == "testsuites"
    assert len(cases) == int(root.get("tests", "")) == len(stored.run.findings)
    assert int(root.get("failures", "")) == statuses[Status.FAIL] == 2
    assert int(root.get("errors", "")) == statuses[Status.ERROR] == 1
    assert int(root.get("skipped", "")) == statuses[Status.SKIPPED] + statuses[Status.WAIVED] == 2
    outcomes = Counter(outcome(c) for c in cases)
    assert outcomes["failure"] == 2 and outcomes["error"] == 1 and outcomes["skipped"] == 2
    assert outcomes["system-out"] == statuses[Status.WARN]
    for suite in root.findall("testsuite"):
        suite_cases = suite.findall("testcase")
        assert int(suite.get("tests", "")) == len(suite_cases)
        assert int(suite.get("failures", "")) == sum(outcome(c) == "failure" for c in suite_cases)
        assert int(suite.get("errors", "")) == sum(outcome(c) == "error" for c in suite_cases)
        assert int(suite.get("skipped", "")) == sum(outcome(c) == "skipped" for c in suite_cases)


def test_one_suite_per_domain_in_report_order(stored: Stored) -> None:
    names = [s.get("name") for s in parse(stored).findall("testsuite")]
    assert names == [
        "assay.integrity",
        "assay.drift",
        "assay.model",
        "assay.fairness",
        "assay.security",
        "assay.performance",
        "assay.governance",
    ]


def test_cases_are_named_by_check_and_subject(stored: Stored) -> None:
    cases = parse(stored).findall("testsuite/testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        (f"assay.{f.domain}", f"{f.check_id}[{f.subject}]")
        for d in dict.fromkeys(f.domain for f in stored.run.findings)
        for f in stored.run.findings
        if f.domain == d
    ]
    assert any(c.get("name") == f"security.pii[{HOSTILE}]" for c in cases)


def test_failure_and_error_carry_severity_message_and_details(stored: Stored) -> None:
    root = parse(stored)
    failure = root.find("testsuite/testcase[@name='integrity.missing_values[income]']/failure")
    assert failure is not None
    assert failure.get("type") == "blocker"
    assert failure.get("message") == "31% of income values are missing."
    assert failure.text is not None
    assert "threshold: missing_ratio ≤ 0.05 (warn), ≤ 0.2 (fail)" in failure.text
    assert "remediation: Fix the export step that drops income." in failure.text
    error = root.find("testsuite/testcase[@name='model.calibration[test]']/error")
    assert error is not None and error.get("type") == "major"


def test_waived_is_skipped_with_reason_approver_and_expiry(stored: Stored) -> None:
    skipped = parse(stored).find(
        "testsuite/testcase[@name='fairness.demographic_parity[sex]']/skipped"
    )
    assert skipped is not None
    assert skipped.get("message") == WAIVED_MESSAGE.format(
        reason="Pilot limited to one region", approver="cro@example.org", expires="2031-01-31"
    )


def test_skipped_and_warn(stored: Stored) -> None:
    root = parse(stored)
    skipped = root.find("testsuite/testcase[@name='fairness.equalized_odds[race]']/skipped")
    assert skipped is not None and "undefined" in (skipped.get("message") or "")
    warn = root.find("testsuite/testcase[@name='drift.feature[age]']")
    assert warn is not None and [c.tag for c in warn] == ["system-out"]
    assert (warn[0].text or "").startswith("WARNING (major): age drifted: PSI 0.15.")
    passed = root.find("testsuite/testcase[@name='integrity.duplicates[train]']")
    assert passed is not None and len(passed) == 0


def test_properties_hold_run_id_and_verdict(stored: Stored) -> None:
    for suite in parse(stored).findall("testsuite"):
        properties = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
        assert properties["assay.run_id"] == stored.run_id
        assert properties["assay.verdict"] == "fail"
        assert properties["assay.fail_on"] == "major or worse"


def test_characters_xml_cannot_hold_are_replaced(stored: Stored) -> None:
    bell = Finding(
        "integrity.schema",
        "integrity",
        "col\x07umn",
        Status.FAIL,
        Severity.MAJOR,
        "data-eng",
        "Value \x00\x1b[31m is not allowed.",
    )
    root = parse(Stored(replace(stored.run, findings=[bell]), stored.blobs))
    case = root.find("testsuite/testcase")
    assert case is not None and case.get("name") == "integrity.schema[col\ufffdumn]"
    assert case[0].get("message") == "Value \ufffd\ufffd[31m is not allowed."


def test_empty_run_still_carries_the_properties(empty: Stored) -> None:
    root = parse(empty)
    assert root.get("tests") == "0"
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "assay" and suite.get("tests") == "0"
    assert suite.find("properties/property[@name='assay.verdict']") is not None
