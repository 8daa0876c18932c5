"""Robustness: does the model keep its predictions, and answer at all, when its inputs are
perturbed? (docs/checks-robustness.md; methods: docs/robustness.md)

Each check perturbs a seeded sample of every test-role dataset at several levels, predicts
the perturbed copies with the spec's model, and grades the prediction flip rate, the drop of
the graded metric, invalid outputs and exceptions at a reference level. The degradation
curve (level → metric, flip rate) of every dataset is stored as
``robustness/<check>/<dataset>.json``. Subjects are dataset names (``test``); feature
dropout adds one finding per feature (``test:x1``).

This module holds the checks that sweep one kind of perturbation over levels — noise,
category swaps, missing values, values out of range; :mod:`.robustness_dropout` and
:mod:`.robustness_adversarial` hold the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import Field, field_validator

from assay.checks import robustness_adversarial, robustness_dropout
from assay.checks._context import Context
from assay.checks._registry import CheckParams, Finding, Severity, Threshold, check
from assay.checks.integrity_common import pct
from assay.checks.robustness_common import (
    COMMON_THRESHOLDS,
    MIN_ROWS,
    Outcome,
    RobustnessOptions,
    Sample,
    assess,
    evidence_of,
    judge,
    level_metrics,
    samples,
    skipped,
    summary,
    undefined_reasons,
)
from assay.stats.perturb import (
    add_noise,
    beyond_range,
    inject_nulls,
    ranged_features,
    swap_categories,
)

__all__ = ["robustness_adversarial", "robustness_dropout"]  # imported to register their checks

Perturb = Callable[[Sample, float, np.random.Generator], pa.Table]


class LevelOptions(RobustnessOptions):
    """Options of a check that sweeps levels: ``levels`` and the graded ``reference``."""

    levels: list[float] = Field(default_factory=list)
    reference: float = 0.0

    @field_validator("levels")
    @classmethod
    def _levels(cls, value: list[float]) -> list[float]:
        if not value or any(not np.isfinite(v) or v < 0 for v in value):
            raise ValueError("levels must be a non-empty list of finite numbers ≥ 0")
        return value


class NoiseOptions(LevelOptions):
    """``checks.robustness.noise.params``: σ levels as fractions of each feature's std."""

    levels: list[float] = Field(default_factory=lambda: [0.05, 0.1, 0.2, 0.5])
    reference: float = Field(default=0.1, ge=0)


class ShareOptions(LevelOptions):
    """Levels that are shares of rows, in [0, 1]."""

    @field_validator("levels")
    @classmethod
    def _shares(cls, value: list[float]) -> list[float]:
        if any(v > 1 for v in value):
            raise ValueError("levels are shares of rows and must lie in [0, 1]")
        return value


class SwapOptions(ShareOptions):
    """``checks.robustness.category_swap.params``: shares of rows swapped per feature."""

    levels: list[float] = Field(default_factory=lambda: [0.05, 0.1, 0.2, 0.5])
    reference: float = Field(default=0.1, ge=0, le=1)


class MissingOptions(ShareOptions):
    """``checks.robustness.missing_values.params``: shares of nulls per feature."""

    levels: list[float] = Field(default_factory=lambda: [0.05, 0.1, 0.2, 0.5])
    reference: float = Field(default=0.1, ge=0, le=1)


class RangeOptions(LevelOptions):
    """``checks.robustness.out_of_range.params``: distances beyond the range, in stds."""

    levels: list[float] = Field(default_factory=lambda: [1.0, 10.0, 1000.0])
    reference: float = Field(default=10.0, ge=0)


def sweep(
    ctx: Context,
    params: CheckParams,
    *,
    name: str,
    perturb: Perturb,
    describe: Callable[[Any], str],
    applies: Callable[[Sample], str | None],
) -> list[Finding]:
    """Perturb every dataset's sample at each level, predict, and grade the reference level."""
    options = params.options
    assert isinstance(options, LevelOptions)
    levels = sorted({*options.levels, options.reference})
    findings: list[Finding] = []
    for item in samples(ctx, params):
        if isinstance(item, Finding):
            findings.append(item)
            continue
        reason = applies(item)
        if reason is not None:
            findings.append(skipped(params, item, reason))
            continue
        outcomes: list[Outcome] = []
        for level in levels:
            rng = np.random.default_rng(params.rng_seed(item.dataset, repr(level)))
            outcomes.append(assess(ctx, item, perturb(item, level, rng), level))
        at = next(o for o in outcomes if o.level == options.reference)
        metrics = level_metrics(item, outcomes, at)
        evidence = evidence_of(ctx, name, item, outcomes, options.reference)
        findings.append(
            judge(
                params,
                item.dataset,
                metrics,
                message=summary(item, outcomes, at, describe),
                undefined=undefined_reasons(metrics, at),
                evidence=(ctx.manifest(item.dataset), evidence),
            )
        )
    return findings


# robustness.noise -----------------------------------------------------------------------------


@check(
    "robustness.noise",
    domain="robustness",
    title="Gaussian noise on numeric features",
    severity=Severity.MAJOR,
    thresholds=(
        Threshold("flip_rate", warn=0.05, fail=0.15, direction="max"),
        Threshold("metric_drop", warn=0.02, fail=0.05, direction="max"),
        *COMMON_THRESHOLDS,
    ),
    requires=("target", "model"),
    options=NoiseOptions,
    min_rows=MIN_ROWS,
    remediation="A model whose predictions flip under noise smaller than the features' own "
    "measurement error is fitting noise: regularise it (shallower trees, more min samples per "
    "leaf, stronger penalties), train with noise augmentation, or drop brittle features.",
)
def noise(ctx: Context, params: CheckParams) -> list[Finding]:
    """Gaussian noise of σ = level × each numeric feature's training std, on every numeric
    feature at once; graded at σ = ``reference`` × std."""

    def perturb(sample: Sample, level: float, rng: np.random.Generator) -> pa.Table:
        return add_noise(sample.table, sample.facts, level, rng)

    return sweep(
        ctx,
        params,
        name="noise",
        perturb=perturb,
        describe=lambda level: f"at σ = {level:g} × std",
        applies=lambda s: (
            None
            if any(s.facts[c].scale > 0 for c in s.of_kind("numeric"))
            else "no numeric feature with a positive std to add noise to"
        ),
    )


# robustness.category_swap ---------------------------------------------------------------------


@check(
    "robustness.category_swap",
    domain="robustness",
    title="Swapped categories",
    severity=Severity.MAJOR,
    thresholds=(
        Threshold("flip_rate", warn=0.05, fail=0.15, direction="max"),
        Threshold("metric_drop", warn=0.02, fail=0.05, direction="max"),
        *COMMON_THRESHOLDS,
    ),
    requires=("target", "model"),
    options=SwapOptions,
    min_rows=MIN_ROWS,
    remediation="A model that changes its answer for many rows when one category is mistyped "
    "leans on that category: check the feature's importance, merge rare categories, or "
    "regularise the encoding (target encoders in particular).",
)
def category_swap(ctx: Context, params: CheckParams) -> list[Finding]:
    """A share of rows of every categorical feature get another category seen in training."""

    def perturb(sample: Sample, level: float, rng: np.random.Generator) -> pa.Table:
        return swap_categories(sample.table, sample.facts, level, rng)

    return sweep(
        ctx,
        params,
        name="category_swap",
        perturb=perturb,
        describe=lambda level: f"with {pct(level)} of rows swapped",
        applies=lambda s: (
            None
            if any(len(s.facts[c].categories) >= 2 for c in s.of_kind("categorical"))
            else "no categorical feature with two or more training categories to swap"
        ),
    )


# robustness.missing_values --------------------------------------------------------------------


@check(
    "robustness.missing_values",
    domain="robustness",
    title="Missing values at prediction time",
    severity=Severity.MAJOR,
    thresholds=(
        Threshold("metric_drop", warn=0.05, fail=0.1, direction="max"),
        Threshold("flip_rate", direction="max"),
        *COMMON_THRESHOLDS,
    ),
    requires=("target", "model"),
    options=MissingOptions,
    min_rows=MIN_ROWS,
    remediation="Make the model degrade gracefully when a value is missing: impute inside the "
    "model pipeline (e.g. SimpleImputer with an indicator), or use a learner that handles "
    "missing values natively; a serving path that raises turns one empty field into an outage.",
)
def missing_values(ctx: Context, params: CheckParams) -> list[Finding]:
    """A share of rows of every feature (independently per feature) become null."""

    def perturb(sample: Sample, level: float, rng: np.random.Generator) -> pa.Table:
        return inject_nulls(sample.table, sample.table.column_names, level, rng)

    return sweep(
        ctx,
        params,
        name="missing_values",
        perturb=perturb,
        describe=lambda level: f"with {pct(level)} nulls per feature",
        applies=lambda s: None if s.table.num_columns else "the model reads no feature",
    )


# robustness.out_of_range ----------------------------------------------------------------------


@check(
    "robustness.out_of_range",
    domain="robustness",
    title="Values beyond the training range",
    severity=Severity.MAJOR,
    thresholds=(Threshold("flip_rate", direction="max"), *COMMON_THRESHOLDS),
    requires=("target", "model"),
    options=RangeOptions,
    min_rows=MIN_ROWS,
    remediation="Validate inputs before they reach the model (reject or clip values outside "
    "the training range), and make sure the model's outputs stay finite probabilities for any "
    "finite input.",
)
def out_of_range(ctx: Context, params: CheckParams) -> list[Finding]:
    """Every row gets one numeric feature set to ``min − k·std`` or ``max + k·std`` of the
    training data (k = level); the model must still answer with valid outputs."""

    def perturb(sample: Sample, level: float, rng: np.random.Generator) -> pa.Table:
        return beyond_range(sample.table, sample.facts, level, rng)

    return sweep(
        ctx,
        params,
        name="out_of_range",
        perturb=perturb,
        describe=lambda level: f"at {level:g} std beyond the training range",
        applies=lambda s: (
            None
            if ranged_features(s.table, s.facts)
            else "no numeric feature with a known training range"
        ),
    )
