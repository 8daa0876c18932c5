"""Compliance checks: declared retention, consent and lineage held against the data, and the
compliance matrix of every check's findings against the control catalogue.

- ``governance.retention``: rows older than ``compliance.retention_days`` (by the dataset's
  ``timestamp:`` column) relative to the audit's clock;
- ``governance.consent``: rows whose ``consent:`` column does not record consent;
- ``governance.inferred_lineage``: every ``inferred:`` column is named in the ``columns:`` of
  some lineage step;
- ``governance.compliance_matrix`` (after the other checks): control → checks → statuses →
  evidence, stored as ``compliance/matrix.json``, one finding per framework.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from assay.checks._context import Context
from assay.checks._registry import CheckParams, Finding, Severity, Status, Threshold, check
from assay.compliance import (
    MATRIX_ARTEFACT,
    build_matrix,
    matrix_json,
    spec_catalogue,
)
from assay.policy import apply_waivers
from assay.spec.models import FRAMEWORKS

ROW_EXAMPLES = 20
"""Row positions listed in the consent evidence, at most."""
CONSENT_TRUE = frozenset({"true", "t", "yes", "y", "1"})
CONSENT_FALSE = frozenset({"false", "f", "no", "n", "0"})


def audit_now(ctx: Context) -> datetime:
    """The audit's clock: ``ctx.now`` when the runner sets it (the run's ``created``), else now.

    Tests set ``ctx.now`` to pin it.
    """
    now = ctx.now
    if now is None:  # a check run outside run_audit (tests, the Python API on a Context)
        return datetime.now(UTC)
    return now if now.tzinfo else now.replace(tzinfo=UTC)


def _rows_skipped(params: CheckParams, name: str) -> Finding:
    return params.finding(
        name,
        status=Status.SKIPPED,
        message=f"dataset {name!r} is given as a stored profile; its rows cannot be read.",
        remediation="Point the dataset at its data file to check its rows.",
    )


# governance.retention ----------------------------------------------------------------------


@check(
    "governance.retention",
    domain="governance",
    title="No row kept beyond the retention period",
    severity=Severity.MAJOR,
    thresholds=(Threshold("expired_count", fail=0), Threshold("undated_count", warn=0)),
    requires=("datasets", "compliance"),
    remediation="Delete (or anonymise) the rows older than the retention period at their source "
    "and re-export the dataset; record when the deletion job last ran.",
)
def retention(ctx: Context, params: CheckParams) -> list[Finding]:
    """One finding per dataset with a ``timestamp:`` column: rows past the retention period."""
    compliance = ctx.spec.compliance
    assert compliance is not None  # planned only with a compliance section
    days = compliance.retention_days
    if days is None:
        return [
            params.finding(
                "*",
                status=Status.SKIPPED,
                message="compliance.retention_days is not set; there is no period to check.",
                remediation="Declare `compliance.retention_days` to check retention.",
            )
        ]
    now = audit_now(ctx)
    cutoff = now - timedelta(days=days)
    findings = []
    for name, spec_ds in ctx.spec.datasets.items():
        if spec_ds.timestamp is None:
            findings.append(
                params.finding(
                    name,
                    status=Status.SKIPPED,
                    message=f"dataset {name!r} has no `timestamp:` column; its rows' age is "
                    "unknown.",
                    remediation=f"Name the column that dates each row: "
                    f"`datasets.{name}.timestamp`.",
                )
            )
        elif not ctx.has_rows(name):
            findings.append(_rows_skipped(params, name))
        else:
            findings.append(_retention_of(ctx, params, name, spec_ds.timestamp, days, now, cutoff))
    return findings


def _retention_of(
    ctx: Context,
    params: CheckParams,
    name: str,
    column: str,
    days: int,
    now: datetime,
    cutoff: datetime,
) -> Finding:
    stamps = utc_timestamps(ctx.table(name, [column]).column(0))
    n = len(stamps)
    undated = stamps.null_count
    expired = int(pc.sum(pc.less(stamps, pa.scalar(cutoff, stamps.type))).as_py() or 0)
    oldest: datetime | None = pc.min(stamps).as_py()
    age = (now - oldest).total_seconds() / 86400 if oldest is not None else None
    metrics: dict[str, float | int | None] = {
        "n_rows": n,
        "expired_count": expired,
        "expired_ratio": expired / n if n else None,
        "undated_count": undated,
        "oldest_age_days": round(age, 3) if age is not None else None,
        "retention_days": days,
    }
    undefined = {}
    if not n:
        undefined["expired_ratio"] = "the dataset has no rows"
    if oldest is None:
        undefined["oldest_age_days"] = "no row has a readable timestamp"
    ref = ctx.add_artefact(
        f"compliance/retention/{name}.json",
        {
            "dataset": name,
            "column": column,
            "retention_days": days,
            "as_of": now.isoformat(timespec="seconds"),
            "cutoff": cutoff.isoformat(timespec="seconds"),
            "oldest": oldest.isoformat() if oldest else None,
            **metrics,
        },
    )
    status, threshold = _worst_grade(params, metrics, ("expired_count", "undated_count"))
    oldest_text = oldest.date().isoformat() if oldest else "none readable"
    message = (
        f"{expired} of {n} rows of {name!r} are older than the {days}-day retention period "
        f"(before {cutoff.date().isoformat()}; oldest {oldest_text})"
    )
    if undated:
        message += f"; {undated} rows have no readable {column!r} timestamp"
    return params.finding(
        name,
        status=status,
        message=message + ".",
        metrics=metrics,
        undefined=undefined,
        threshold=threshold,
        evidence=(ref, ctx.manifest(name)),
    )


def utc_timestamps(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """``column`` as UTC timestamps (microseconds); unreadable values become nulls.

    Timestamps without a zone and dates are taken as UTC; text is read as ISO 8601
    (``2024-05-01``, ``2024-05-01T10:00:00Z``, ``2024-05-01 10:00:00+02:00``).
    """
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    target = pa.timestamp("us", tz="UTC")
    kind = array.type
    if pa.types.is_timestamp(kind):
        if kind.tz is None:
            array = pc.assume_timezone(array.cast(pa.timestamp("us")), "UTC")
        return array.cast(target)
    if pa.types.is_date(kind):
        return pc.assume_timezone(array.cast(pa.timestamp("us")), "UTC").cast(target)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return pa.array([_parse(v) for v in array.to_pylist()], type=target)
    return pa.nulls(len(array), type=target)


def _parse(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _worst_grade(
    params: CheckParams, metrics: dict[str, Any], names: tuple[str, ...]
) -> tuple[Status, Threshold]:
    """The worst grade among the thresholds ``names``, with the threshold that gave it."""
    graded = []
    for rank, name in enumerate(names):
        threshold = params.thresholds[name]
        status = threshold.grade(metrics.get(name)) or Status.PASS
        graded.append(({Status.FAIL: 0, Status.WARN: 1}.get(status, 2), rank, status, threshold))
    _, _, status, threshold = min(graded, key=lambda g: (g[0], g[1]))
    return status, threshold


# governance.consent ------------------------------------------------------------------------


@check(
    "governance.consent",
    domain="governance",
    title="Every row has a consent record",
    severity=Severity.MAJOR,
    thresholds=(Threshold("without_consent_count", fail=0),),
    requires=("datasets", "compliance"),
    remediation="Remove the rows without recorded consent (or record the consent and its "
    "basis), and fix the export so such rows stay out.",
)
def consent(ctx: Context, params: CheckParams) -> list[Finding]:
    """One finding per dataset with a ``consent:`` column: rows that do not record consent.

    Consent is ``true``, ``yes``, ``y``, ``t`` or ``1`` (any case), a boolean true or a
    number 1; ``false``, ``no``, ``n``, ``f``, ``0`` record its refusal; a missing value or
    anything else is no record of consent.
    """
    declared = {n: d.consent for n, d in ctx.spec.datasets.items() if d.consent is not None}
    if not declared:
        return [
            params.finding(
                "*",
                status=Status.SKIPPED,
                message="no dataset declares a `consent:` column.",
                remediation="Name the column that records each row's consent: "
                "`datasets.NAME.consent`.",
            )
        ]
    findings = []
    for name, column in declared.items():
        if not ctx.has_rows(name):
            findings.append(_rows_skipped(params, name))
            continue
        values = ctx.table(name, [column]).column(0).to_pylist()
        kinds = [consent_of(v) for v in values]
        refused = kinds.count(False)
        missing = sum(1 for v in values if v is None)
        unrecognised = sum(
            1 for v, k in zip(values, kinds, strict=True) if k is None and v is not None
        )
        without = refused + missing + unrecognised
        n = len(values)
        metrics: dict[str, float | int | None] = {
            "n_rows": n,
            "without_consent_count": without,
            "without_consent_ratio": without / n if n else None,
            "refused_count": refused,
            "missing_count": missing,
            "unrecognised_count": unrecognised,
        }
        rows = [i for i, k in enumerate(kinds) if k is not True][:ROW_EXAMPLES]
        ref = ctx.add_artefact(
            f"compliance/consent/{name}.json",
            {"dataset": name, "column": column, **metrics, "example_rows": rows},
        )
        detail = f"{refused} refused, {missing} missing, {unrecognised} unrecognised"
        where = f" (rows {', '.join(map(str, rows))}{' …' if without > len(rows) else ''})"
        findings.append(
            params.judge(
                f"{name}:{column}",
                "without_consent_count",
                metrics,
                message=f"{without} of {n} rows of {name!r} have no consent recorded in "
                f"{column!r}: {detail}{where if without else ''}.",
                undefined={"without_consent_ratio": "the dataset has no rows"} if not n else None,
                evidence=(ref, ctx.manifest(name)),
            )
        )
    return findings


def consent_of(value: Any) -> bool | None:
    """``True`` (consented), ``False`` (refused) or ``None`` (no readable record)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return True if value == 1 else False if value == 0 else None
    if isinstance(value, str):
        text = value.strip().lower()
        return True if text in CONSENT_TRUE else False if text in CONSENT_FALSE else None
    return None


# governance.inferred_lineage ---------------------------------------------------------------


@check(
    "governance.inferred_lineage",
    domain="governance",
    title="Inferred attributes have a lineage step",
    severity=Severity.MAJOR,
    thresholds=(Threshold("lineage_steps", fail=1, direction="min"),),
    requires=("datasets", "compliance"),
    remediation="Add the step that infers the column to `lineage:` and list the column under "
    "its `columns:` (what it ran, on which inputs).",
)
def inferred_lineage(ctx: Context, params: CheckParams) -> list[Finding]:
    """One finding per ``inferred:`` column: the lineage steps that name it."""
    findings = []
    for name, ds in ctx.spec.datasets.items():
        for column in ds.inferred:
            steps = [s.name for s in ctx.spec.lineage if column in s.columns]
            named = f"named by lineage step {', '.join(repr(s) for s in steps)}"
            findings.append(
                params.judge(
                    f"{name}:{column}",
                    "lineage_steps",
                    {"lineage_steps": len(steps)},
                    message=f"inferred column {column!r} of {name!r} is "
                    + (named if steps else "named in no lineage step's `columns:`")
                    + ".",
                )
            )
    if not findings:
        findings.append(
            params.finding(
                "*",
                status=Status.SKIPPED,
                message="no dataset declares `inferred:` columns.",
                remediation="List the columns inferred from other data under "
                "`datasets.NAME.inferred`.",
            )
        )
    return findings


# governance.compliance_matrix --------------------------------------------------------------

MATRIX_THRESHOLDS = (
    Threshold("failing_controls", fail=0),
    Threshold("warning_controls", warn=0),
    Threshold("coverage_ratio", direction="min"),
)
"""A failing control fails the framework's finding — at severity info, so the matrix never
gates above the findings it summarises (they gate on their own, at their own severity)."""


@check(
    "governance.compliance_matrix",
    domain="governance",
    title="Compliance matrix: controls evidenced by the audit",
    severity=Severity.INFO,
    thresholds=MATRIX_THRESHOLDS,
    requires=("datasets",),
    after_checks=True,
    remediation="Fix the failing findings of the control's checks (the matrix lists them), or "
    "run the checks that would evidence the controls not evidenced; set a minimum "
    "`coverage_ratio` (and a higher severity) to gate on coverage.",
)
def compliance_matrix(ctx: Context, params: CheckParams) -> list[Finding]:
    """One finding per framework: its controls' statuses and coverage, from the findings of
    the checks that ran before this one (waivers applied as the run will apply them)."""
    catalogue = spec_catalogue(ctx.spec)
    compliance = ctx.spec.compliance
    frameworks = list(compliance.frameworks if compliance is not None else FRAMEWORKS)
    today: date = audit_now(ctx).date()
    others = [f for f in ctx.findings if f.check_id != params.info.id]
    matrices = build_matrix(catalogue, apply_waivers(others, ctx.spec, today), frameworks)
    ref = ctx.add_artefact(MATRIX_ARTEFACT, matrix_json(matrices, catalogue.unmapped))
    findings = []
    for m in matrices:
        counts = m.counts
        metrics: dict[str, float | int | None] = {
            "controls": len(m.controls),
            "evidenced_controls": m.evidenced,
            "coverage_ratio": m.coverage_ratio,
            "failing_controls": counts["fail"] + counts["error"],
            "warning_controls": counts["warn"],
            "waived_controls": counts["waived"],
            "passing_controls": counts["pass"],
            "not_evidenced_controls": counts["not_evidenced"],
        }
        status, threshold = _worst_grade(
            params, metrics, ("failing_controls", "warning_controls", "coverage_ratio")
        )
        failing = [r.control.id for r in m.controls if r.status in ("fail", "error")]
        coverage = m.coverage_ratio
        message = (
            f"{m.framework.title}: {m.evidenced} of {len(m.controls)} controls evidenced"
            + (f" ({coverage:.0%})" if coverage is not None else "")
            + f"; {metrics['failing_controls']} failing, {counts['warn']} warning, "
            f"{counts['waived']} waived, {counts['pass']} passing, "
            f"{counts['not_evidenced']} not evidenced"
            + (f". Failing: {', '.join(failing)}" if failing else "")
            + (". The mapping is indicative" if m.framework.indicative else "")
            + "."
        )
        findings.append(
            params.finding(
                m.framework.id,
                status=status,
                message=message,
                metrics=metrics,
                undefined={"coverage_ratio": "the framework has no controls"}
                if coverage is None
                else None,
                threshold=threshold,
                evidence=(ref,),
            )
        )
    return findings
