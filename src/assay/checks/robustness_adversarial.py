"""``robustness.adversarial``: how small a change of the numeric features flips a prediction?

A black-box decision-boundary search (:func:`assay.stats.adversarial.boundary_search`:
random rays, bisection, HopSkipJump refinement) that needs only the model's labels. It runs
on up to ``n_samples`` correctly classified rows of each test-role dataset, in the space of
the numeric features divided by their training std; categorical and other features are held
fixed, and rows with a missing numeric value are left out. A row's **relative perturbation**
is the L2 norm of its change in that space over √d (d numeric features): the root mean
square shift per feature, in training standard deviations. An attack **succeeds** when it
flips the label within ``budget``. Classification only.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from pydantic import Field

from assay.checks._context import Context
from assay.checks._registry import CheckParams, Finding, Metric, Severity, Status, Threshold, check
from assay.checks.integrity_common import graded, pct
from assay.checks.robustness_common import (
    MIN_ROWS,
    RobustnessOptions,
    Sample,
    samples,
    skipped,
)
from assay.stats.adversarial import BoundaryResult, boundary_search
from assay.stats.perturb import numeric_values, with_numeric

SEARCH_FACTOR = 2.0
"""The search looks up to this many budgets away, so refinement can bring far hits inside."""


class AdversarialOptions(RobustnessOptions):
    """``checks.robustness.adversarial.params``."""

    n_samples: int = Field(default=100, ge=1, le=10_000, description="Rows attacked per dataset.")
    budget: float = Field(
        default=0.2,
        gt=0,
        description="Largest relative perturbation (RMS shift per numeric feature, in training "
        "stds) that counts as a successful attack.",
    )
    max_queries: int = Field(default=1000, ge=50, description="Model queries per row at most.")


class _ModelRaisedError(Exception):
    pass


@check(
    "robustness.adversarial",
    domain="robustness",
    title="Black-box adversarial search",
    severity=Severity.MAJOR,
    thresholds=(
        Threshold("success_rate", warn=0.25, fail=0.5, direction="max"),
        Threshold("model_error_count", fail=0, direction="max"),
    ),
    requires=("target", "model"),
    options=AdversarialOptions,
    min_rows=MIN_ROWS,
    remediation="Predictions that flip under changes far smaller than the features' spread sit "
    "on a jagged decision boundary: regularise the model (smoother learners, fewer and "
    "larger leaves), train with noise or adversarial augmentation, and check which features "
    "the successful attacks move (evidence).",
)
def adversarial(ctx: Context, params: CheckParams) -> list[Finding]:
    """Success rate of a label-only boundary search within ``budget``; median size of the
    successful perturbations."""
    options = params.options
    assert isinstance(options, AdversarialOptions)
    findings: list[Finding] = []
    for item in samples(ctx, params):
        if isinstance(item, Finding):
            findings.append(item)
        elif item.ev.task == "regression":
            findings.append(skipped(params, item, "adversarial search needs a classifier"))
        else:
            findings.append(_attack(ctx, params, options, item))
    return findings


def _attack(
    ctx: Context, params: CheckParams, options: AdversarialOptions, sample: Sample
) -> Finding:
    assert ctx.model is not None
    model = ctx.model
    ev = sample.ev
    columns = [c for c in sample.of_kind("numeric") if sample.facts[c].scale > 0]
    if not columns:
        return skipped(params, sample, "no numeric feature with a positive std to perturb")
    scales = np.array([sample.facts[c].scale for c in columns])
    x = np.column_stack([numeric_values(sample.table, c) for c in columns])
    assert ev.y_true is not None
    correct = np.array(
        [a == b for a, b in zip(ev.y_pred.tolist(), ev.y_true.tolist(), strict=True)], dtype=bool
    )
    eligible = np.flatnonzero(correct & np.isfinite(x).all(axis=1))
    if len(eligible) < 1:
        return skipped(params, sample, "no correctly classified row without missing values")
    rng = np.random.default_rng(params.rng_seed(sample.dataset, "attack"))
    rows = np.sort(rng.permutation(eligible)[: options.n_samples])
    base = sample.table.take(pa.array(rows))
    labels = ev.y_pred[rows].tolist()
    z0 = x[rows] / scales
    d = len(columns)

    def oracle(points: np.ndarray, which: np.ndarray) -> np.ndarray:
        table = base.take(pa.array(which))
        values = points * scales
        for j, column in enumerate(columns):
            table = with_numeric(table, column, values[:, j])
        try:
            out = model.predict_all(table).labels.tolist()
        except Exception as exc:  # a model that raises mid-search: the finding says so
            raise _ModelRaisedError(f"{type(exc).__name__}: {exc}"[:300]) from exc
        return np.array([a != labels[i] for a, i in zip(out, which.tolist(), strict=True)])

    radius = SEARCH_FACTOR * options.budget * np.sqrt(d)
    try:
        found = boundary_search(oracle, z0, radius=radius, rng=rng, max_queries=options.max_queries)
    except _ModelRaisedError as exc:
        return params.finding(
            sample.dataset,
            status=Status.FAIL,
            message=f"the model raised during the adversarial search ({exc}): not graceful "
            f"({sample.n:,} rows of {sample.dataset}).",
            metrics={"model_error_count": 1, "n_samples": len(rows), "n_rows": sample.n},
            threshold=params.thresholds["model_error_count"],
            evidence=(ctx.manifest(sample.dataset),),
        )
    return _finding(ctx, params, options, sample, found, rows, columns)


def _finding(
    ctx: Context,
    params: CheckParams,
    options: AdversarialOptions,
    sample: Sample,
    found: BoundaryResult,
    rows: np.ndarray,
    columns: list[str],
) -> Finding:
    d = len(columns)
    relative = found.distance / np.sqrt(d)
    success = relative <= options.budget
    sizes = relative[success]
    metrics: dict[str, Metric] = {
        "success_rate": float(success.mean()),
        "median_perturbation": float(np.median(sizes)) if len(sizes) else None,
        "n_samples": len(rows),
        "n_successes": int(success.sum()),
        "mean_queries": float(found.queries.mean()),
        "model_error_count": 0,
        "n_rows": sample.n,
    }
    undefined = {}
    if metrics["median_perturbation"] is None:
        undefined["median_perturbation"] = "no attack flipped a label within the budget"
    evidence = ctx.add_artefact(
        f"robustness/adversarial/{sample.dataset}.json",
        {
            "schema": "assay.robustness/1",
            "check": "robustness.adversarial",
            "dataset": sample.dataset,
            "rows": sample.n,
            "facts_from": sample.reference,
            "method": "random rays + bisection + HopSkipJump refinement (label-only), L2 in "
            "std-normalised numeric space",
            "features": columns,
            "budget": options.budget,
            "search_radius": SEARCH_FACTOR * options.budget,
            "max_queries": options.max_queries,
            "attacked_rows": [int(r) for r in sample.ev.rows[rows]],
            "relative_perturbation": [
                None if not np.isfinite(v) else float(v) for v in relative.tolist()
            ],
            "queries": [int(q) for q in found.queries.tolist()],
            "curve": _curve(relative, options.budget),
        },
    )
    median = metrics["median_perturbation"]
    size = "" if median is None else f" (median relative perturbation {median:.3f})"
    message = (
        f"{pct(float(success.mean()))} of {len(rows)} correctly classified rows flip under a "
        f"perturbation within {options.budget:g} std (RMS over {d} numeric features){size} "
        f"({sample.n:,} rows of {sample.dataset})."
    )
    return graded(
        params,
        sample.dataset,
        metrics,
        ["success_rate", "model_error_count"],
        message=message,
        undefined=undefined,
        evidence=(ctx.manifest(sample.dataset), evidence),
    )


def _curve(relative: np.ndarray, budget: float) -> list[dict[str, float]]:
    """Share of attacked rows flipped within each budget: the robustness curve."""
    out = []
    for fraction in (0.25, 0.5, 1.0, 1.5, 2.0):
        level = fraction * budget
        out.append({"budget": level, "success_rate": float((relative <= level).mean())})
    return out
