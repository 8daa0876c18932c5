"""JUnit XML for CI systems: one test suite per domain, one test case per finding.

How statuses map: ``fail`` → ``<failure>`` (its ``type`` is the severity), ``error`` →
``<error>``, ``skipped`` and ``waived`` → ``<skipped>`` (a waiver's reason, approver and expiry
in the message), ``warn`` → a passing case whose ``<system-out>`` carries the warning, ``pass``
→ a passing case. Each suite's properties hold the run id and the verdict, so a CI page links
back to the stored run.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from assay.checks._registry import Finding, Status
from assay.reports._common import (
    domains_in_order,
    fail_on_text,
    finding_label,
    format_metric,
    short_id,
)
from assay.run import Run

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
CLASS_PREFIX = "assay."
EMPTY_SUITE = "assay"
"""Name of the one suite written when a run has no findings, to carry the properties."""

WARNING_OUTPUT = "WARNING ({severity}): {message}"
WAIVED_MESSAGE = "waived: {reason} (approved by {approver}, expires {expires})"

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def render_junit(run: Run, *, run_id: str) -> str:
    """The findings of a stored run as a JUnit ``<testsuites>`` document."""
    findings = list(run.findings)
    root = ET.Element("testsuites", {"name": "assay", **_totals(findings)})
    for domain in domains_in_order(findings):
        in_domain = [f for f in findings if f.domain == domain]
        suite = ET.SubElement(
            root, "testsuite", {"name": CLASS_PREFIX + domain, **_totals(in_domain)}
        )
        _properties(suite, run, run_id)
        for finding in in_domain:
            _testcase(suite, finding)
    if not findings:
        empty = ET.SubElement(root, "testsuite", {"name": EMPTY_SUITE, **_totals([])})
        _properties(empty, run, run_id)
    ET.indent(root)
    return XML_DECLARATION + ET.tostring(root, encoding="unicode") + "\n"


def _totals(findings: Sequence[Finding]) -> dict[str, str]:
    def count(*statuses: Status) -> str:
        return str(sum(1 for f in findings if f.status in statuses))

    return {
        "tests": str(len(findings)),
        "failures": count(Status.FAIL),
        "errors": count(Status.ERROR),
        "skipped": count(Status.SKIPPED, Status.WAIVED),
    }


def _properties(suite: ET.Element, run: Run, run_id: str) -> None:
    system = " ".join(str(run.system.get(k, "")) for k in ("name", "version")).strip()
    values = {
        "assay.run_id": run_id,
        "assay.run_id_short": short_id(run_id),
        "assay.verdict": run.verdict.status,
        "assay.fail_on": fail_on_text(run.verdict.fail_on),
        "assay.created": run.created,
        "assay.tool_version": run.tool_version,
        "assay.system": system,
    }
    properties = ET.SubElement(suite, "properties")
    for name, value in values.items():
        ET.SubElement(properties, "property", name=name, value=_clean(value))


def _testcase(suite: ET.Element, finding: Finding) -> None:
    case = ET.SubElement(
        suite,
        "testcase",
        name=_clean(finding_label(finding)),
        classname=_clean(CLASS_PREFIX + finding.domain),
    )
    message = _clean(finding.message)
    severity = finding.severity.value
    if finding.status is Status.FAIL:
        ET.SubElement(case, "failure", message=message, type=severity).text = _details(finding)
    elif finding.status is Status.ERROR:
        ET.SubElement(case, "error", message=message, type=severity).text = _details(finding)
    elif finding.status is Status.SKIPPED:
        ET.SubElement(case, "skipped", message=message)
    elif finding.status is Status.WAIVED:
        ET.SubElement(case, "skipped", message=_clean(_waived_message(finding)))
    elif finding.status is Status.WARN:
        warning = WARNING_OUTPUT.format(severity=severity, message=finding.message)
        ET.SubElement(case, "system-out").text = _clean(warning + "\n" + _details(finding))


def _waived_message(finding: Finding) -> str:
    waiver = finding.waiver
    if waiver is None:
        return "waived: " + finding.message
    return WAIVED_MESSAGE.format(
        reason=waiver.reason, approver=waiver.approver, expires=waiver.expires
    )


def _details(finding: Finding) -> str:
    """Everything a CI reader needs to act on a finding, one fact per line."""
    lines = [
        f"check: {finding.check_id}",
        f"subject: {finding.subject}",
        f"severity: {finding.severity.value}",
        f"owner: {finding.owner}",
    ]
    if finding.metrics:
        metrics = ", ".join(f"{k}={format_metric(v)}" for k, v in finding.metrics.items())
        lines.append(f"metrics: {metrics}")
    lines.extend(f"undefined {k}: {reason}" for k, reason in finding.undefined.items())
    if finding.threshold:
        lines.append(f"threshold: {finding.threshold.describe()}")
    if finding.remediation:
        lines.append(f"remediation: {finding.remediation}")
    lines.extend(f"evidence: {ref}" for ref in finding.evidence)
    return _clean("\n".join(lines))


def _clean(text: str) -> str:
    """``text`` with the characters XML 1.0 cannot hold replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)
