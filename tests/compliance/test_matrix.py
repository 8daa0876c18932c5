"""The matrix builder: control statuses, coverage and the stored form."""

from __future__ import annotations

from assay.checks._registry import Finding, Severity, Status
from assay.compliance import (
    MATRIX_SCHEMA,
    Catalogue,
    Control,
    Framework,
    build_matrix,
    matrix_json,
)


def finding(check_id: str, subject: str, status: Status, *evidence: str) -> Finding:
    return Finding(
        check_id=check_id,
        domain=check_id.split(".")[0],
        subject=subject,
        status=status,
        severity=Severity.MAJOR,
        owner="team",
        message="m",
        evidence=evidence,
    )


def catalogue() -> Catalogue:
    controls = (
        Control("nist_ai_rmf", "C-fail", "t", "MEASURE 2.5", ("a.one", "a.two")),
        Control("nist_ai_rmf", "C-warn", "t", "MEASURE 2.6", ("a.two", "a.three")),
        Control("nist_ai_rmf", "C-pass", "t", "MEASURE 2.7", ("a.three",)),
        Control("nist_ai_rmf", "C-none", "t", "MEASURE 2.10", ("a.skipped", "a.absent")),
        Control("nist_ai_rmf", "C-empty", "t", "MEASURE 2.11", ()),
        Control("nist_ai_rmf", "C-error", "t", "MEASURE 2.3", ("a.error", "a.two")),
        Control("nist_ai_rmf", "C-waived", "t", "MEASURE 2.4", ("a.waived", "a.three")),
    )
    return Catalogue({"nist_ai_rmf": Framework("nist_ai_rmf", "NIST", "src", False, controls)})


FINDINGS = [
    finding("a.one", "x", Status.PASS),
    finding("a.one", "y", Status.FAIL, "sha256:" + "1" * 64),
    finding("a.two", "x", Status.WARN),
    finding("a.three", "x", Status.PASS, "sha256:" + "3" * 64),
    finding("a.skipped", "*", Status.SKIPPED),
    finding("a.error", "*", Status.ERROR),
    finding("a.waived", "x", Status.WAIVED),
]


def test_a_control_takes_the_worst_status_of_its_checks_findings() -> None:
    [matrix] = build_matrix(catalogue(), FINDINGS, ["nist_ai_rmf"])
    statuses = {row.control.id: row.status for row in matrix.controls}
    assert statuses == {
        "C-fail": "fail",
        "C-warn": "warn",
        "C-pass": "pass",
        "C-none": "not_evidenced",
        "C-empty": "not_evidenced",
        "C-error": "error",
        "C-waived": "waived",
    }
    none = next(r for r in matrix.controls if r.control.id == "C-none")
    assert [(c.check_id, c.status, c.findings) for c in none.checks] == [
        ("a.skipped", "not_run", ()),
        ("a.absent", "not_run", ()),
    ]


def test_coverage_is_evidenced_controls_over_all() -> None:
    [matrix] = build_matrix(catalogue(), FINDINGS, ["nist_ai_rmf"])
    assert matrix.evidenced == 5
    assert matrix.coverage_ratio == 5 / 7
    assert matrix.counts == {
        "fail": 1,
        "error": 1,
        "warn": 1,
        "waived": 1,
        "pass": 1,
        "not_evidenced": 2,
    }


def test_the_stored_matrix_lists_findings_and_their_evidence() -> None:
    data = matrix_json(build_matrix(catalogue(), FINDINGS, ["nist_ai_rmf"]), {"z.z": "why"})
    assert data["schema"] == MATRIX_SCHEMA
    [fw] = data["frameworks"]
    assert (fw["controls_total"], fw["evidenced"], fw["coverage_ratio"]) == (7, 5, 5 / 7)
    first = fw["controls"][0]
    assert first["id"] == "C-fail" and first["status"] == "fail"
    assert first["checks"][0] == {
        "check_id": "a.one",
        "status": "fail",
        "findings": [
            {"subject": "x", "status": "pass", "evidence": []},
            {"subject": "y", "status": "fail", "evidence": ["sha256:" + "1" * 64]},
        ],
    }
    assert data["unmapped"] == {"z.z": "why"}


def test_no_findings_leave_every_control_not_evidenced() -> None:
    [matrix] = build_matrix(catalogue(), [], ["nist_ai_rmf"])
    assert {r.status for r in matrix.controls} == {"not_evidenced"}
    assert matrix.coverage_ratio == 0.0
