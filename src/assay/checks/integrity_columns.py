"""Column-level integrity checks: ranges, allowed values, missing values, constant columns.

All of them read exact column statistics from the audit context (one scan per dataset, shared
by every check) and ask the context's SQL engine only for the rows a rule singles out.
"""

from __future__ import annotations

import math
from typing import Any

from assay.checks._context import Context
from assay.checks._registry import CheckParams, Finding, Severity, Threshold, check
from assay.checks.integrity_common import (
    absent_column,
    column_subject,
    graded,
    is_missing,
    listing,
    pct,
    plain,
    plural,
    show,
    skipped,
)
from assay.sources.schema import logical_type
from assay.spec.models import ColumnSchema

RANGE_OK = "{subject}: all {present:,} values lie within {range}."
RANGE_BAD = "{subject}: {count:,} of {present:,} values ({ratio}) lie outside {range}{sides}."
ALLOWED_OK = "{subject}: all {present:,} values are among the {n} allowed."
ALLOWED_BAD = (
    "{subject}: {count:,} of {present:,} values ({ratio}) are not allowed; commonest: {top}."
)
MISSING_CLEAN = "{name}: no missing values in {columns} ({rows:,} rows)."
MISSING_COLUMN = "{subject}: {missing:,} of {rows:,} values missing ({ratio}{detail})."


# integrity.value_range ---------------------------------------------------------------------


@check(
    "integrity.value_range",
    domain="integrity",
    title="Values within their declared range",
    thresholds=(Threshold("out_of_range_ratio", warn=0, fail=0.01),),
    requires=("schema",),
    remediation="Find the rows outside the range (the evidence lists example values): fix the "
    "source or the unit conversion, filter them, or widen `min:`/`max:` if they are valid.",
)
def value_range(ctx: Context, params: CheckParams) -> list[Finding]:
    """Columns with a declared ``min`` and/or ``max`` hold no values outside it.

    The ratio is over the column's present values: missing values (null or NaN) are the
    business of ``integrity.missing_values``.
    """
    findings = []
    for name, ds in ctx.datasets.items():
        declared = ctx.schema(name)
        if declared is None:
            continue
        for column, col in declared.columns.items():
            if col.min is None and col.max is None:
                continue
            subject = column_subject(name, column)
            manifest = ctx.manifest(name)
            if column not in ds.columns:
                findings.append(absent_column(params, subject, manifest))
                continue
            kind = logical_type(ds.schema.field(column).type)
            if kind not in ("integer", "float", "null"):
                reason = f"the column holds {kind} values; `min:`/`max:` apply to numbers"
                findings.append(skipped(params, subject, reason, evidence=(manifest,)))
                continue
            findings.append(_range_finding(ctx, params, name, column, col, kind, manifest))
    return findings


def _range_finding(
    ctx: Context,
    params: CheckParams,
    name: str,
    column: str,
    col: ColumnSchema,
    kind: str,
    manifest: str,
) -> Finding:
    ds = ctx.dataset(name)
    st = ctx.stats(name)[column]
    subject = column_subject(name, column)
    below, low_examples = 0, list[Any]()
    above, high_examples = 0, list[Any]()
    if kind != "null" and col.min is not None:
        below, low_examples = ctx.facts.out_of_range(ds, column, col.min, None)
    if kind != "null" and col.max is not None:
        above, high_examples = ctx.facts.out_of_range(ds, column, None, col.max)
        if st.nans:
            # SQL orders NaN above every number, so "x > max" may count NaNs: take out
            # whatever lies above +inf (only NaN can), which is 0 if the engine skips NaN.
            above -= ctx.facts.out_of_range(ds, column, None, math.inf)[0]
    count = below + above
    metrics: dict[str, Any] = {
        "out_of_range_count": count,
        "out_of_range_ratio": count / st.present if st.present else None,
        "below_min_count": below,
        "above_max_count": above,
    }
    undefined = {} if st.present else {"out_of_range_ratio": "the column has no present values"}
    bounds = _range_text(col)
    evidence: tuple[str, ...] = (manifest,)
    if count:
        examples = [plain(v) for v in [*low_examples, *high_examples] if not is_missing(v)]
        artefact = {
            "dataset": name,
            "column": column,
            "min": col.min,
            "max": col.max,
            "below_min_count": below,
            "above_max_count": above,
            "observed_min": plain(st.min),
            "observed_max": plain(st.max),
            "examples": examples,
            "note": "examples are the smallest distinct values below min and above max",
        }
        evidence += (ctx.add_artefact(f"integrity.value_range/{name}/{column}.json", artefact),)
        sides = []
        if below:
            sides.append(f"{below:,} below")
        if above:
            sides.append(f"{above:,} above")
        message = RANGE_BAD.format(
            subject=subject,
            count=count,
            present=st.present,
            ratio=pct(metrics["out_of_range_ratio"]),
            range=bounds,
            sides=f" ({'; '.join(sides)})",
        )
    else:
        message = RANGE_OK.format(subject=subject, present=st.present, range=bounds)
    return params.judge(
        subject,
        "out_of_range_ratio",
        metrics,
        message=message,
        undefined=undefined,
        evidence=evidence,
    )


def _range_text(col: ColumnSchema) -> str:
    low = "(-∞" if col.min is None else f"[{col.min:g}"
    high = "∞)" if col.max is None else f"{col.max:g}]"
    return f"{low}, {high}"


# integrity.allowed_values ------------------------------------------------------------------


@check(
    "integrity.allowed_values",
    domain="integrity",
    title="Values among the allowed ones",
    thresholds=(Threshold("unexpected_ratio", warn=0, fail=0.01),),
    requires=("schema",),
    remediation="Map the unexpected values (listed in the evidence) to allowed ones at the "
    "source, or add them to `allowed:` if they are valid categories.",
)
def allowed_values(ctx: Context, params: CheckParams) -> list[Finding]:
    """Columns with an ``allowed:`` list hold only those values (missing values aside)."""
    findings = []
    for name, ds in ctx.datasets.items():
        declared = ctx.schema(name)
        if declared is None:
            continue
        for column, col in declared.columns.items():
            if col.allowed is None:
                continue
            subject = column_subject(name, column)
            manifest = ctx.manifest(name)
            if column not in ds.columns:
                findings.append(absent_column(params, subject, manifest))
                continue
            findings.append(_allowed_finding(ctx, params, name, column, col.allowed, manifest))
    return findings


def _allowed_finding(
    ctx: Context, params: CheckParams, name: str, column: str, allowed: list[Any], manifest: str
) -> Finding:
    ds = ctx.dataset(name)
    st = ctx.stats(name)[column]
    subject = column_subject(name, column)
    kind = logical_type(ds.schema.field(column).type)
    texts = [_allowed_text(kind, v) for v in allowed]
    if st.nans:
        texts.append("nan")  # NaN is missing, not an unexpected category
    count, top = ctx.facts.unexpected_values(ds, column, texts)
    top = [(v, n) for v, n in top if not is_missing(v)]
    ratio = count / st.present if st.present else None
    metrics = {"unexpected_count": count, "unexpected_ratio": ratio}
    undefined = {} if st.present else {"unexpected_ratio": "the column has no present values"}
    evidence: tuple[str, ...] = (manifest,)
    if count:
        artefact = {
            "dataset": name,
            "column": column,
            "allowed": [plain(v) for v in allowed],
            "unexpected_count": count,
            "commonest_unexpected": [{"value": plain(v), "count": n} for v, n in top],
        }
        evidence += (ctx.add_artefact(f"integrity.allowed_values/{name}/{column}.json", artefact),)
        shown = ", ".join(f"{show(v)} ({n:,})" for v, n in top[:3])
        message = ALLOWED_BAD.format(
            subject=subject, count=count, present=st.present, ratio=pct(ratio or 0.0), top=shown
        )
    else:
        message = ALLOWED_OK.format(subject=subject, present=st.present, n=len(allowed))
    return params.judge(
        subject,
        "unexpected_ratio",
        metrics,
        message=message,
        undefined=undefined,
        evidence=evidence,
    )


def _allowed_text(kind: str, value: Any) -> str:
    """``value`` as the engine renders a value of a ``kind`` column as text."""
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "float" and numeric:
        return repr(float(value))
    if kind == "integer" and isinstance(value, float) and value.is_integer():
        return str(int(value))
    if kind == "boolean" and (isinstance(value, bool) or value in (0, 1)):
        return str(bool(value)).lower()
    if kind == "boolean" and isinstance(value, str):
        return value.lower()
    return str(value).lower() if isinstance(value, bool) else str(value)


# integrity.missing_values ------------------------------------------------------------------


@check(
    "integrity.missing_values",
    domain="integrity",
    title="Missing values per column",
    thresholds=(Threshold("missing_ratio", warn=0.05, fail=0.3),),
    remediation="Find why the values are missing (a join, an export, a form field): fix the "
    "source, impute deliberately, or drop the column if it carries too little.",
)
def missing_values(ctx: Context, params: CheckParams) -> list[Finding]:
    """The share of missing values (null or NaN) of each column.

    One finding per column that has any missing value; a dataset without any gets one
    ``pass`` finding instead of a line per clean column.
    """
    findings = []
    for name, ds in ctx.datasets.items():
        stats = ctx.stats(name)
        manifest = ctx.manifest(name)
        declared = ctx.schema(name)
        dirty = [c for c in ds.columns if stats[c].missing > 0]
        if not dirty:
            metrics = {"missing_ratio": 0.0, "n_columns": len(ds.columns)}
            message = MISSING_CLEAN.format(
                name=name, columns=plural(len(ds.columns), "column"), rows=ds.rows
            )
            findings.append(
                params.judge(name, "missing_ratio", metrics, message=message, evidence=(manifest,))
            )
            continue
        for column in dirty:
            st = stats[column]
            ratio = st.missing / st.rows
            details = []
            if st.nans:
                details.append(f"{st.nulls:,} null, {st.nans:,} NaN")
            col = declared.columns.get(column) if declared else None
            if col is not None and not col.nullable:
                details.append("declared nullable: false, see integrity.schema")
            message = MISSING_COLUMN.format(
                subject=column_subject(name, column),
                missing=st.missing,
                rows=st.rows,
                ratio=pct(ratio),
                detail="".join(f"; {d}" for d in details),
            )
            metrics = {
                "missing_count": st.missing,
                "missing_ratio": ratio,
                "null_count": st.nulls,
                "nan_count": st.nans,
            }
            findings.append(
                params.judge(
                    column_subject(name, column),
                    "missing_ratio",
                    metrics,
                    message=message,
                    evidence=(manifest,),
                )
            )
    return findings


# integrity.constant_columns ----------------------------------------------------------------


@check(
    "integrity.constant_columns",
    domain="integrity",
    title="Empty and constant columns",
    severity=Severity.MINOR,
    thresholds=(Threshold("empty_columns", fail=0), Threshold("constant_columns", warn=0)),
    remediation="Drop columns that carry no information, or fix the step that emptied them "
    "(a failed join or an export that wrote defaults).",
)
def constant_columns(ctx: Context, params: CheckParams) -> list[Finding]:
    """Columns with no present value (empty) or a single distinct present value (constant)."""
    findings = []
    for name, ds in ctx.datasets.items():
        stats = ctx.stats(name)
        empty = [c for c in ds.columns if stats[c].present == 0]
        constant = [c for c in ds.columns if stats[c].present > 0 and stats[c].distinct == 1]
        unknown = [c for c in ds.columns if stats[c].present > 0 and stats[c].distinct is None]
        metrics = {
            "empty_columns": len(empty),
            "constant_columns": len(constant),
            "n_columns": len(ds.columns),
        }
        problems = []
        if empty:
            problems.append(f"{plural(len(empty), 'empty column')} ({listing(empty)})")
        if constant:
            problems.append(f"{plural(len(constant), 'constant column')} ({listing(constant)})")
        if problems:
            message = f"{name}: " + " and ".join(problems) + "."
        else:
            checked = len(ds.columns) - len(unknown)
            message = f"{name}: no empty or constant column among {plural(checked, 'column')}."
        if unknown:
            message = (
                message[:-1]
                + f" ({plural(len(unknown), 'nested column')} not checked: {listing(unknown)})."
            )
        findings.append(
            graded(
                params,
                name,
                metrics,
                ["empty_columns", "constant_columns"],
                message=message,
                evidence=(ctx.manifest(name),),
            )
        )
    return findings
