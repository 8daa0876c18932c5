"""diff_runs properties (hypothesis) and the baseline regression rules."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.checks._registry import Finding, Severity, Status, Threshold
from assay.evidence import Regression, diff_runs, regressions
from assay.run import Run, compute_verdict

CHECKS = ("integrity.missing_values", "drift.feature")
SUBJECTS = ("age", "income", "zip")
METRICS = ("missing_ratio", "psi", "n_rows")

values = st.one_of(
    st.none(),
    st.integers(-3, 3),
    st.floats(-2, 2, allow_nan=False, width=16),
    st.just(math.nan),
    st.just(math.inf),
)


@st.composite
def findings(draw: st.DrawFn) -> list[Finding]:
    keys = draw(st.sets(st.tuples(st.sampled_from(CHECKS), st.sampled_from(SUBJECTS))))
    return [
        Finding(
            check_id=check_id,
            domain=check_id.split(".")[0],
            subject=subject,
            status=draw(st.sampled_from(Status)),
            severity=Severity.MAJOR,
            owner="team",
            message="m",
            metrics=draw(st.dictionaries(st.sampled_from(METRICS), values, max_size=3)),
        )
        for check_id, subject in sorted(keys)
    ]


def make(found: list[Finding], seed: int = 0) -> Run:
    return Run(
        created="2025-01-01T00:00:00Z",
        tool_version="0.1.0",
        system={"name": "s", "version": "1"},
        seed=seed,
        spec_sha256="0" * 64,
        inputs=[],
        environment={},
        findings=found,
        verdict=compute_verdict(found, Severity.MAJOR),
    )


def defined(value: float | int | None) -> float | int | None:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def differs(old: Finding, new: Finding) -> bool:
    names = set(old.metrics) | set(new.metrics)
    return old.status != new.status or any(
        defined(old.metrics.get(n)) != defined(new.metrics.get(n)) for n in names
    )


@settings(max_examples=150, deadline=None)
@given(findings())
def test_a_run_does_not_differ_from_itself(found: list[Finding]) -> None:
    diff = diff_runs(make(found), make(found, seed=1))
    assert diff.is_empty
    assert diff.to_json()["changed"] == diff.to_json()["new"] == diff.to_json()["gone"] == []


@settings(max_examples=150, deadline=None)
@given(findings(), findings())
def test_new_and_gone_swap_with_the_arguments(a: list[Finding], b: list[Finding]) -> None:
    forward, backward = diff_runs(make(a), make(b)), diff_runs(make(b), make(a))
    assert forward.new == backward.gone
    assert forward.gone == backward.new
    assert [c.key for c in forward.changed] == [c.key for c in backward.changed]
    assert forward.is_empty == backward.is_empty


@settings(max_examples=200, deadline=None)
@given(findings(), findings())
def test_changed_keys_are_the_common_keys_that_differ(a: list[Finding], b: list[Finding]) -> None:
    diff = diff_runs(make(a), make(b))
    old, new = {f.key: f for f in a}, {f.key: f for f in b}
    common = old.keys() & new.keys()

    assert {c.key for c in diff.changed} == {k for k in common if differs(old[k], new[k])}
    assert {f.key for f in diff.new} == new.keys() - old.keys()
    assert {f.key for f in diff.gone} == old.keys() - new.keys()
    for change in diff.changed:
        assert (change.status is not None) == (change.old.status != change.new.status)
        assert all(defined(m.old) != defined(m.new) for m in change.metrics)
    json.dumps(diff.to_json(), allow_nan=False)  # plain JSON, no NaN


def test_diff_reports_status_and_metric_changes() -> None:
    base = Finding(
        "drift.feature",
        "drift",
        "age",
        Status.PASS,
        Severity.MAJOR,
        "t",
        "m",
        metrics={"psi": 0.1, "n_rows": 100},
    )
    a = make([base, replace(base, subject="zip")])
    b = make(
        [
            replace(base, status=Status.FAIL, metrics={"psi": 0.4, "n_rows": 100}),
            replace(base, subject="income"),
        ]
    )

    diff = diff_runs(a, b)

    assert diff.to_json() == {
        "a": a.id,
        "b": b.id,
        "changed": [
            {
                "check_id": "drift.feature",
                "subject": "age",
                "status": {"old": "pass", "new": "fail"},
                "metrics": [{"name": "psi", "old": 0.1, "new": 0.4}],
            }
        ],
        "new": [replace(base, subject="income").to_json()],
        "gone": [replace(base, subject="zip").to_json()],
    }
    assert not diff.is_empty


# -- regressions --------------------------------------------------------------------------


def finding(value: float | None, status: Status = Status.PASS, direction: str = "max") -> Finding:
    threshold = Threshold("psi", warn=0.1, fail=0.2, direction=direction)  # type: ignore[arg-type]
    return Finding(
        "drift.feature",
        "drift",
        "age",
        status,
        Severity.MAJOR,
        "t",
        "m",
        metrics={"psi": value},
        threshold=threshold,
    )


@pytest.mark.parametrize(
    ("direction", "old", "new", "tolerance", "regressed"),
    [
        ("max", 0.05, 0.08, 0.02, True),
        ("max", 0.05, 0.07, 0.02, False),  # exactly at the tolerance: not worse by more
        ("max", 0.05, 0.01, 0.0, False),  # better
        ("min", 0.90, 0.80, 0.05, True),
        ("min", 0.90, 0.86, 0.05, False),
        ("min", 0.90, 0.99, 0.0, False),
        ("max", None, 0.5, 0.0, False),  # undefined values never regress
        ("max", 0.1, math.nan, 0.0, False),
    ],
)
def test_metric_regressions_follow_the_threshold_direction(
    direction: str, old: float | None, new: float | None, tolerance: float, regressed: bool
) -> None:
    before, after = finding(old, direction=direction), finding(new, direction=direction)
    found = regressions(make([before]), [after], tolerance=tolerance)
    expected = [Regression(before, after, "psi", old, new)] if regressed else []
    assert found == expected


@pytest.mark.parametrize(
    ("old", "new", "regressed"),
    [
        (Status.PASS, Status.WARN, True),
        (Status.PASS, Status.FAIL, True),
        (Status.WARN, Status.FAIL, True),
        (Status.FAIL, Status.WARN, False),
        (Status.WARN, Status.WARN, False),
        (Status.PASS, Status.SKIPPED, False),
        (Status.ERROR, Status.FAIL, False),
    ],
)
def test_status_regressions(old: Status, new: Status, regressed: bool) -> None:
    before, after = finding(0.05, old), finding(0.05, new)
    found = regressions(make([before]), [after], tolerance=0.0)
    assert found == (
        [Regression(before, after, "status", old.value, new.value)] if regressed else []
    )


def test_status_and_metric_regressions_together() -> None:
    before, after = finding(0.05), finding(0.3, Status.FAIL)
    new_finding = replace(after, subject="new-column")
    found = regressions(make([before]), [after, new_finding], tolerance=0.01)
    assert [(r.metric, r.old_value, r.new_value) for r in found] == [
        ("status", "pass", "fail"),
        ("psi", 0.05, 0.3),
    ]


def test_no_threshold_means_no_metric_regression() -> None:
    before, after = replace(finding(0.05), threshold=None), replace(finding(0.9), threshold=None)
    assert regressions(make([before]), [after], tolerance=0.0) == []


@pytest.mark.parametrize("tolerance", [-0.1, math.nan, math.inf])
def test_tolerance_must_be_a_finite_non_negative_number(tolerance: float) -> None:
    with pytest.raises(ValueError, match="tolerance must be a finite number >= 0"):
        regressions(make([]), [], tolerance=tolerance)


def test_duplicate_keys_are_paired_in_order_not_lost() -> None:
    first, second = finding(0.01), finding(0.02)
    diff = diff_runs(make([first, second]), make([first]))
    assert [f.metrics for f in diff.gone] == [{"psi": 0.02}]
    assert diff.changed == ()
