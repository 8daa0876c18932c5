"""What the fairness checks share: options, the evaluated inputs per dataset, grading.

The policy itself is described in :mod:`assay.checks.fairness`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from assay.checks._context import Context
from assay.checks._evaluation import Evaluation
from assay.checks._registry import (
    CheckParams,
    Finding,
    Metric,
    Status,
    Threshold,
    derive_seed,
)
from assay.checks.model_common import json_value
from assay.stats.fairness import (
    Disparity,
    FairnessResult,
    GroupStats,
    fairness_by_grouping,
)

MISSING = "(missing)"
"""The group of rows without a value for a sensitive feature."""

NO_DATASET = (
    "no dataset with role {roles}, a target and `sensitive:` columns: nothing to measure "
    "fairness on."
)
NO_DATASET_FIX = (
    "Declare `sensitive:` columns on a held-out dataset with a target (role test), or list its "
    "role under `checks.{check}.params.roles`."
)
NOT_EVALUATED = "could not evaluate {dataset}: {error}"
REGRESSION = (
    "{dataset} is a regression task: these fairness metrics (selection rate, TPR, FPR) are "
    "defined for classifiers."
)
MULTICLASS = (
    "{dataset} has {count} classes; the fairness checks handle binary classifiers only for now."
)
ONE_GROUP = "only one group ({group}) in {dataset}: nothing to compare."
MISSING_NOTE = "{count} row(s) without a {column} value form the group {column}={missing}"
SMALL_NOTE = "small groups (fewer than {size} rows, can warn but not fail): {groups}"
TOO_FEW = (
    "fewer than two groups with a defined {rate} remain in {dataset}: nothing to compare "
    "(insufficient data)."
)
NO_PRIVILEGED = (
    "no privileged value declared for {features}: compared with the most-selected group "
    "{group} (the four-fifths rule of the Uniform Guidelines). Declare one as "
    "`sensitive: [{example}]`"
)
BAD_PRIVILEGED = "dataset {dataset!r}: {error} Fix `sensitive:` ({{column, privileged}})."
FIX_PRIVILEGED = "Declare a privileged value that occurs in the data, e.g. {example}."


class FairnessOptions(BaseModel):
    """``checks.fairness.*.params``: which datasets, and how groups and intervals are made."""

    model_config = ConfigDict(extra="forbid")

    roles: list[str] = Field(
        default_factory=lambda: ["test"],
        min_length=1,
        description="Roles of the datasets evaluated (e.g. add `current` for labelled "
        "production data).",
    )
    min_group_size: int = Field(default=30, ge=1, description="Groups below are flagged small.")
    n_bootstrap: int = Field(default=1000, ge=0, le=100_000)
    confidence: float = Field(default=0.95, gt=0, lt=1)


@dataclass(frozen=True)
class _Inputs:
    """One dataset's predictions with its sensitive values aligned to the evaluated rows."""

    dataset: str
    ev: Evaluation
    features: dict[str, np.ndarray]
    privileged: dict[str, Any]
    notes: tuple[str, ...]
    seed: int
    results: tuple[FairnessResult, ...] = ()
    evidence: tuple[str, ...] = field(default=())

    def subject(self, features: Sequence[str]) -> str:
        return f"{self.dataset}:{' & '.join(features)}"


def _options(params: CheckParams) -> FairnessOptions:
    options = params.options
    assert isinstance(options, FairnessOptions)
    return options


def _datasets(ctx: Context, params: CheckParams) -> list[str]:
    roles = _options(params).roles
    return [
        name
        for name, ds in ctx.datasets.items()
        if ds.role in roles and ds.spec.target is not None and ds.spec.sensitive
    ]


def _each_dataset(
    ctx: Context, params: CheckParams, judge: Callable[[_Inputs], list[Finding]]
) -> list[Finding]:
    """``judge`` on every evaluated dataset; skipped/error findings where it cannot run."""
    names = _datasets(ctx, params)
    if not names:
        return [
            params.finding(
                "*",
                status=Status.SKIPPED,
                message=NO_DATASET.format(roles=" or ".join(_options(params).roles)),
                remediation=NO_DATASET_FIX.format(check=params.info.id),
            )
        ]
    findings: list[Finding] = []
    for name in names:
        prepared = _prepare(ctx, params, name)
        findings.extend(judge(prepared) if isinstance(prepared, _Inputs) else [prepared])
    return findings


def _prepare(ctx: Context, params: CheckParams, name: str) -> _Inputs | Finding:
    try:
        ev = ctx.evaluation(name)
    except Exception as exc:  # a failing model: reported, the audit goes on
        return params.finding(
            name, status=Status.ERROR, message=NOT_EVALUATED.format(dataset=name, error=exc)
        )
    if ev.task == "regression":
        return params.finding(name, status=Status.SKIPPED, message=REGRESSION.format(dataset=name))
    if not ev.binary:
        count = len(ev.classes or ())
        return params.finding(
            name, status=Status.SKIPPED, message=MULTICLASS.format(dataset=name, count=count)
        )
    if ev.n < params.min_rows:
        return params.insufficient(name, ev.n)
    declared = ctx.datasets[name].spec.sensitive
    columns = list(dict.fromkeys(f.column for f in declared))
    table = ctx.table(name, columns).take(ev.rows)
    features: dict[str, np.ndarray] = {}
    notes = []
    for column in columns:
        values, missing = _values(table.column(column).to_pylist())
        features[column] = values
        if missing:
            notes.append(MISSING_NOTE.format(count=missing, column=column, missing=MISSING))
    privileged = {
        f.column: _match(f.privileged, features[f.column])
        for f in declared
        if f.privileged is not None
    }
    options = _options(params)
    inputs = _Inputs(
        name, ev, features, privileged, tuple(notes), derive_seed(ctx.spec.seed, "fairness", name)
    )
    results = fairness_by_grouping(
        ev.y_true,
        ev.y_pred,
        features,
        pos_label=ev.positive,
        seed=inputs.seed,
        min_group_size=options.min_group_size,
        n_bootstrap=options.n_bootstrap,
        confidence=options.confidence,
    )
    evidence = ctx.add_artefact(
        f"fairness/{name}.json",
        {
            "dataset": name,
            "source": ev.source,
            "positive": json_value(ev.positive),
            "rows": ev.n,
            "rows_without_target": ev.dropped,
            "notes": list(notes),
            "groupings": [_plain(r.to_json()) for r in results],
        },
    )
    return replace(inputs, results=results, evidence=(evidence,))


def _values(raw: list[Any]) -> tuple[np.ndarray, int]:
    """A column's values as an array, missing ones (None, NaN) replaced by :data:`MISSING`."""
    missing = [v is None or (isinstance(v, float) and math.isnan(v)) for v in raw]
    count = sum(missing)
    if not count:
        return np.asarray(raw), 0
    out = np.empty(len(raw), dtype=object)
    out[:] = [MISSING if m else v for v, m in zip(raw, missing, strict=True)]
    return out, count


def _match(declared: Any, values: np.ndarray) -> Any:
    """The column's own value for a declared privileged value (``"1"`` matches ``1``)."""
    uniques = {v.item() if isinstance(v, np.generic) else v for v in np.unique(values)}
    if declared in uniques:
        return declared
    same = [u for u in uniques if str(u) == str(declared)]
    return same[0] if len(same) == 1 else declared


def _plain(value: Any) -> Any:
    """JSON-safe copy: NaN and infinities become ``None``."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return json_value(value)


def _number(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _group(result: FairnessResult, label: str | None) -> GroupStats | None:
    return next((g for g in result.groups if g.group == label), None)


def _small(result: FairnessResult) -> list[GroupStats]:
    return [g for g in result.groups if g.small]


def _ci(d: Disparity, confidence: float) -> str:
    if _number(d.ci_low) is None:
        return ""
    return f" ({round(confidence * 100)}% CI {d.ci_low:.2f}–{d.ci_high:.2f})"


def _with_ci(
    metrics: dict[str, Metric], undefined: dict[str, str], name: str, d: Disparity, reason: str
) -> None:
    """``name``, ``name_ci_low`` and ``name_ci_high`` into ``metrics`` (None with a reason)."""
    metrics[name] = _number(d.value)
    if metrics[name] is None:
        undefined[name] = reason
    for end, value in (("low", d.ci_low), ("high", d.ci_high)):
        key = f"{name}_ci_{end}"
        metrics[key] = _number(value)
        if metrics[key] is None:
            undefined[key] = (
                "no bootstrap (n_bootstrap: 0)"
                if d.ci_resamples == 0 and metrics[name] is not None
                else "undefined in every bootstrap resample"
                if metrics[name] is not None
                else reason
            )


def _grade(
    params: CheckParams, graded: Mapping[str, tuple[float | None, float | None]]
) -> tuple[Status | None, Threshold | None, bool]:
    """The worst status over ``metric → (value over large groups, value over all groups)``.

    The all-groups value is capped at WARN: small groups can warn, never fail. Returns the
    status (None when every value is undefined), the threshold that set it and whether the
    all-groups value did.
    """
    order = [Status.PASS, Status.WARN, Status.FAIL]
    worst: tuple[Status | None, Threshold | None, bool] = (None, None, False)
    for metric, (large, every) in graded.items():
        threshold = params.thresholds.get(metric)
        if threshold is None:
            continue
        for value, capped in ((large, False), (every, True)):
            status = threshold.grade(value)
            if status is None:
                continue
            if capped and status is Status.FAIL:
                status = Status.WARN
            if worst[0] is None or order.index(status) > order.index(worst[0]):
                worst = (status, threshold, capped)
    return worst


def _base_metrics(result: FairnessResult) -> dict[str, Metric]:
    return {
        "n_groups": len(result.groups),
        "small_group_count": len(_small(result)),
        "n_rows": result.n_rows,
    }


def _one_group(params: CheckParams, inputs: _Inputs, result: FairnessResult) -> Finding | None:
    if len(result.groups) > 1:
        return None
    return params.finding(
        inputs.subject(result.features),
        status=Status.SKIPPED,
        message=ONE_GROUP.format(group=result.groups[0].group, dataset=inputs.dataset),
        metrics=_base_metrics(result),
        evidence=inputs.evidence,
        remediation="Nothing to fix: a feature with one value cannot be compared.",
    )


def _notes(
    inputs: _Inputs,
    result: FairnessResult,
    rates: Sequence[str],
    min_group_size: int,
    keywords: Sequence[str] = (),
) -> str:
    """What a reader needs next to the value: undefined rates (0/0), the warnings matching
    ``keywords``, the small groups and the missing sensitive values."""
    parts = []
    for rate in rates:
        name, why = _UNDEFINED_RATES[rate]
        groups = [g.group for g in result.groups if not math.isfinite(getattr(g, rate))]
        if groups:
            parts.append(f"{name} undefined (0/0) for {_listed(groups)}: {why}")
    parts += [w.rstrip(".") for w in result.warnings if any(k in w for k in keywords)]
    small = _small(result)
    if small:
        listed = _listed([f"{g.group} ({g.size} rows)" for g in small])
        parts.append(SMALL_NOTE.format(size=min_group_size, groups=listed))
    parts += [n for n in inputs.notes if any(f"a {f} value" in n for f in result.features)]
    return "".join(f"; {p}" for p in parts)


_UNDEFINED_RATES = {
    "tpr": ("TPR", "no actual positives, left out of the TPR comparison"),
    "fpr": ("FPR", "no actual negatives, left out of the FPR comparison"),
    "precision": ("precision", "no predicted positives"),
}


def _listed(items: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"


# ---------------------------------------------------------------------------------------------
# fairness.group_metrics

_GROUP_NOTES = ("tpr", "fpr", "precision")


def _fmt(value: float) -> str:
    return "undefined" if _number(value) is None else f"{value:.2f}"
