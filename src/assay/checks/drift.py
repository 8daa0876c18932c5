"""Drift checks: how the current data differs from the reference, column by column and as a whole.

The reference is the dataset of role ``reference`` (else ``train``), from its rows or from a
stored profile; every dataset of role ``current`` is compared with it. Each column's test is
chosen by kind and size (docs/drift-statistics.md): an exact p-value test (KS, chi-squared)
while both sides are exact and small, an effect size with a threshold (normed Wasserstein,
Jensen–Shannon distance) beyond that, so a tiny shift in millions of rows is not "drift".
P-values are corrected across the columns of one comparison (Benjamini–Hochberg by default).

Subjects are ``<current>:<column>`` for columns and ``<current>`` for a whole comparison.
Every column finding records the test (its metric name is the threshold's), the sample sizes,
the p-value and its corrected value for p-value tests, and an effect size used to rank
columns; the plot data for the report is stored as evidence.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from assay.checks._context import Context
from assay.checks._registry import CheckParams, Finding, Severity, Status, Threshold, check
from assay.profiles.column import ColumnProfile
from assay.stats import (
    DEFAULT_EXACT_MAX_N,
    CategoricalDistribution,
    DriftResult,
    NumericDistribution,
    benjamini_hochberg,
    category_table,
    choose_test,
    get_test,
    run_test,
    shared_bins,
)

MIN_ROWS = 30
THRESHOLDS = (
    Threshold("p_value_adjusted", fail=0.05, direction="min"),
    Threshold("wasserstein_normed", fail=0.1),
    Threshold("jensenshannon", fail=0.1),
    Threshold("psi", warn=0.1, fail=0.2),
    Threshold("wasserstein", fail=None),
)
REMEDIATION = (
    "Find out why the column moved (a pipeline change, a new population, a broken upstream "
    "feed); retrain on data that includes it, or accept it by raising the threshold or "
    "waiving the finding with a reason."
)
PLOT_CATEGORIES = 12


class DriftOptions(BaseModel):
    """Options of the per-column drift checks."""

    model_config = ConfigDict(extra="forbid")

    test: str | None = Field(default=None, description="Use this test for every column.")
    tests: dict[str, str] = Field(default_factory=dict, description="A test per column.")
    correction: Literal["bh", "none"] = "bh"
    exact_max_n: int = Field(default=DEFAULT_EXACT_MAX_N, ge=0)
    columns: list[str] | None = None


@dataclass(frozen=True)
class Pair:
    reference: str
    current: str


def pairs(ctx: Context) -> list[Pair]:
    """Reference (role ``reference``, else ``train``) × every dataset of role ``current``."""
    roles = {name: ctx.spec.role_of(name) for name in ctx.spec.datasets}
    references = [n for n, r in roles.items() if r == "reference"] or [
        n for n, r in roles.items() if r == "train"
    ]
    if not references:
        return []
    return [Pair(references[0], n) for n, r in roles.items() if r == "current"]


def _roles(ctx: Context, name: str) -> dict[str, str]:
    spec = ctx.spec.datasets[name]
    out = {}
    if spec.target:
        out[spec.target] = "label"
    for column in (spec.prediction, spec.score):
        if column:
            out[column] = "prediction"
    for column in (spec.id, spec.timestamp):
        if column:
            out[column] = "key"
    return out


def _columns(ctx: Context, pair: Pair, role: str) -> list[str]:
    """Columns of ``role`` (feature, label, prediction) present in both datasets, in order."""
    ref_columns = set(ctx.profile(pair.reference).columns)
    roles = {**_roles(ctx, pair.reference), **_roles(ctx, pair.current)}
    return [
        c
        for c in ctx.profile(pair.current).columns
        if c in ref_columns and roles.get(c, "feature") == role
    ]


# The checks -------------------------------------------------------------------------------


@check(
    "drift.feature",
    domain="drift",
    title="Per-feature drift against the reference",
    severity=Severity.MAJOR,
    thresholds=THRESHOLDS,
    requires=("reference_current",),
    remediation=REMEDIATION,
    options=DriftOptions,
    min_rows=MIN_ROWS,
)
def feature_drift(ctx: Context, params: CheckParams) -> list[Finding]:
    """Every feature column (all but target, prediction, score, id, timestamp)."""
    return _compare_all(ctx, params, "feature")


@check(
    "drift.label",
    domain="drift",
    title="Label drift against the reference",
    severity=Severity.MAJOR,
    thresholds=THRESHOLDS,
    requires=("reference_current", "target"),
    remediation=REMEDIATION,
    options=DriftOptions,
    min_rows=MIN_ROWS,
)
def label_drift(ctx: Context, params: CheckParams) -> list[Finding]:
    """The target column: the share of each label."""
    return _compare_all(ctx, params, "label")


@check(
    "drift.prediction",
    domain="drift",
    title="Prediction drift against the reference",
    severity=Severity.MAJOR,
    thresholds=THRESHOLDS,
    requires=("reference_current", "predictions"),
    remediation=REMEDIATION,
    options=DriftOptions,
    min_rows=MIN_ROWS,
)
def prediction_drift(ctx: Context, params: CheckParams) -> list[Finding]:
    """The prediction and score columns: what the model outputs."""
    return _compare_all(ctx, params, "prediction")


def _compare_all(ctx: Context, params: CheckParams, role: str) -> list[Finding]:
    options = params.options if isinstance(params.options, DriftOptions) else DriftOptions()
    findings: list[Finding] = []
    for pair in pairs(ctx):
        columns = _columns(ctx, pair, role)
        if options.columns is not None:
            columns = [c for c in columns if c in options.columns]
        findings += _compare(ctx, params, options, pair, columns)
    return findings


@dataclass
class _Column:
    name: str
    subject: str
    kind: str
    test: str
    result: DriftResult | None = None
    finding: Finding | None = None  # decided early: skipped, type change, all missing
    effect: float | None = None
    adjusted: float | None = None
    plot: dict[str, Any] | None = None


def _compare(
    ctx: Context, params: CheckParams, options: DriftOptions, pair: Pair, columns: Sequence[str]
) -> list[Finding]:
    ref_profile, cur_profile = ctx.profile(pair.reference), ctx.profile(pair.current)
    evidence = tuple(ctx.manifest(n) for n in (pair.reference, pair.current) if ctx.has_rows(n))
    results: list[_Column] = []
    for name in columns:
        ref, cur = ref_profile[name], cur_profile[name]
        results.append(_one(params, options, pair, ref, cur))
    _correct(results, options)
    artefact = ctx.add_artefact(
        f"drift/{params.info.id}/{pair.current}.json",
        {
            "reference": pair.reference,
            "current": pair.current,
            "check": params.info.id,
            "columns": [_column_json(c) for c in results],
        },
    )
    return [_judge(params, c, pair, (*evidence, artefact)) for c in results]


def _one(
    params: CheckParams, options: DriftOptions, pair: Pair, ref: ColumnProfile, cur: ColumnProfile
) -> _Column:
    subject = f"{pair.current}:{ref.name}"
    kind = _kind(ref)
    column = _Column(ref.name, subject, kind, "")
    if _family(ref.logical) != _family(cur.logical):
        column.finding = params.finding(
            subject,
            status=Status.FAIL,
            message=f"{subject}: the column's type changed from {ref.logical} in "
            f"{pair.reference} to {cur.logical} in {pair.current}; the values cannot be compared.",
            remediation="Fix the producer of the current data, or declare the new type in the "
            "schema and retrain.",
        )
        return column
    if kind == "other":
        column.finding = params.finding(
            subject,
            status=Status.SKIPPED,
            message=f"{subject}: {ref.arrow_type} values have no drift test.",
            remediation="",
        )
        return column
    n_ref, n_cur = _present(ref), _present(cur)
    if n_cur == 0 and n_ref > 0:
        column.finding = params.finding(
            subject,
            status=Status.FAIL,
            message=f"{subject}: every value is missing in {pair.current} "
            f"({cur.count:,} rows), while {pair.reference} has {n_ref:,} values.",
            metrics={"n_reference": n_ref, "n_current": 0, "missing_ratio_current": 1.0},
            remediation="Find where the column stopped being filled upstream.",
        )
        return column
    if min(n_ref, n_cur) < params.min_rows:
        column.finding = params.insufficient(subject, min(n_ref, n_cur))
        return column
    ref_dist, cur_dist = _distribution(ref, kind), _distribution(cur, kind)
    name = options.tests.get(ref.name) or options.test
    if name is None:
        name = choose_test(_test_kind(kind), ref_dist, cur_dist, exact_max_n=options.exact_max_n)
    column.test = name
    column.result = run_test(name, _test_kind(kind), ref_dist, cur_dist)
    effect_test = "wasserstein_normed" if kind in ("numeric", "datetime") else "jensenshannon"
    effect = (
        column.result
        if name == effect_test
        else run_test(effect_test, _test_kind(kind), ref_dist, cur_dist)
    )
    column.effect = effect.statistic
    column.plot = _plot(ref_dist, cur_dist, kind)
    return column


def _correct(columns: list[_Column], options: DriftOptions) -> None:
    tested = [c for c in columns if c.result is not None and c.result.p_value is not None]
    raw = [c.result.p_value for c in tested if c.result is not None]
    adjusted = benjamini_hochberg(raw) if options.correction == "bh" else list(raw)
    for column, value in zip(tested, adjusted, strict=True):
        column.adjusted = value


def _judge(params: CheckParams, column: _Column, pair: Pair, evidence: tuple[str, ...]) -> Finding:
    if column.finding is not None:
        return _with_evidence(column.finding, evidence)
    result = column.result
    assert result is not None
    test = get_test(column.test)
    metrics: dict[str, float | int | None] = {
        "n_reference": result.n_ref,
        "n_current": result.n_cur,
        "effect_size": column.effect,
    }
    undefined: dict[str, str] = {}
    if test.uses_p_value:
        adjusted = column.adjusted
        metrics.update(
            {"statistic": result.statistic, "p_value": result.p_value, "p_value_adjusted": adjusted}
        )
        metric = "p_value_adjusted"
        shown = f"{column.test} p = {_fmt(result.p_value)} (corrected {_fmt(adjusted)})"
    else:
        metrics[column.test] = result.statistic
        metric = column.test
        shown = f"{column.test} = {_fmt(result.statistic)}"
    if result.statistic_error is not None and result.statistic_error > 0:
        metrics["statistic_error"] = result.statistic_error
    if params.thresholds[metric].fail is None and params.thresholds[metric].warn is None:
        return params.finding(
            column.subject,
            status=Status.ERROR,
            message=f"{column.subject}: {shown}, but {metric} has no threshold.",
            metrics=metrics,
            evidence=evidence,
            remediation=f"Set `checks.{params.info.id}.thresholds.{metric}` in the spec "
            "(it is in the column's units).",
        )
    mode = "exact" if result.exact else "sketched"
    sizes = f"n = {result.n_ref:,} / {result.n_cur:,}, {mode}"
    finding = params.judge(
        column.subject,
        metric,
        metrics,
        message=f"{column.subject}: {shown} ({sizes}) against {pair.reference}.",
        undefined=undefined,
        evidence=evidence,
    )
    if finding.status is Status.PASS:
        return finding
    verb = "drifted" if finding.status is Status.FAIL else "shifted"
    return _with_message(
        finding, f"{column.subject} {verb}: {shown} ({sizes}) against {pair.reference}."
    )


# Distributions ----------------------------------------------------------------------------


def _kind(p: ColumnProfile) -> str:
    kind = p.kind
    return "categorical" if kind == "text" else kind


def _family(logical: str) -> str:
    """Types whose values compare with each other: integers and floats are both numbers.

    The test follows the *reference's* kind, so a column that is numeric in the reference
    and has few distinct integers in the current data is still compared as numbers.
    """
    return {"integer": "number", "float": "number", "date": "time", "timestamp": "time"}.get(
        logical, logical
    )


def _test_kind(kind: str) -> str:
    return "numeric" if kind == "datetime" else kind


def _present(p: ColumnProfile) -> int:
    """Values a drift test sees: finite numbers, or non-missing categories."""
    return p.n_finite if p.logical in ("integer", "float", "date", "timestamp") else p.present


def _distribution(p: ColumnProfile, kind: str) -> NumericDistribution | CategoricalDistribution:
    if kind in ("numeric", "datetime"):
        if p.values is not None:
            return NumericDistribution.from_values(p.values)
        assert p.kll is not None
        return NumericDistribution.from_kll(
            p.kll, n=p.n_finite, mean=p.mean, std=p.std or 0.0, min=float(p.min), max=float(p.max)
        )
    counts = {k: v for k, v in p.items.counts.items() if not _is_nan(k)}
    n = _present(p) if p.items.exact else max(_present(p), sum(counts.values()))
    return CategoricalDistribution(counts, n, p.items.exact)


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _plot(ref: Any, cur: Any, kind: str) -> dict[str, Any]:
    """What the report draws: shares per shared bin, or per category (the commonest)."""
    if kind in ("numeric", "datetime"):
        bins = shared_bins(ref, cur)
        if bins.edges is not None:
            return {
                "type": "histogram",
                "edges": [float(e) for e in bins.edges],
                "reference": [float(s) for s in bins.ref],
                "current": [float(s) for s in bins.cur],
            }
        labels = [str(x) for x in bins.labels or ()]
        return {
            "type": "bars",
            "labels": labels,
            "reference": list(map(float, bins.ref)),
            "current": list(map(float, bins.cur)),
        }
    table = category_table(ref, cur)
    ref_total, cur_total = float(table.ref.sum()) or 1.0, float(table.cur.sum()) or 1.0
    order = sorted(range(len(table.labels)), key=lambda i: -(table.ref[i] + table.cur[i]))[
        :PLOT_CATEGORIES
    ]
    return {
        "type": "bars",
        "labels": [str(table.labels[i]) for i in order],
        "reference": [float(table.ref[i]) / ref_total for i in order],
        "current": [float(table.cur[i]) / cur_total for i in order],
    }


def _column_json(c: _Column) -> dict[str, Any]:
    result = c.result
    return {
        "column": c.name,
        "subject": c.subject,
        "kind": c.kind,
        "test": c.test or None,
        "statistic": None if result is None else _finite(result.statistic),
        "p_value": None if result is None else _finite(result.p_value),
        "p_value_adjusted": _finite(c.adjusted),
        "exact": None if result is None else result.exact,
        "effect_size": _finite(c.effect),
        "plot": c.plot,
    }


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"


def _with_evidence(finding: Finding, evidence: Iterable[str]) -> Finding:
    return replace(finding, evidence=(*finding.evidence, *evidence))


def _with_message(finding: Finding, message: str) -> Finding:
    return replace(finding, message=message)
