"""``robustness.feature_dropout``: one feature at a time becomes unavailable.

Subjects are ``<dataset>:<feature>``. "Unavailable" means null in every row (``fill:
null``, the default: what a broken upstream join or a dropped field sends); with ``fill:
median`` the feature is instead held at its training median (numeric) or commonest
category (categorical), which measures how much the model relies on the feature rather
than how it handles nulls. A model that raises is not graceful and fails.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pyarrow as pa
from pydantic import Field

from assay.checks._context import Context
from assay.checks._registry import CheckParams, Finding, Severity, Threshold, check
from assay.checks.integrity_common import column_subject
from assay.checks.robustness_common import (
    COMMON_THRESHOLDS,
    MIN_ROWS,
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
from assay.stats.perturb import fill_column, null_column


class DropoutOptions(RobustnessOptions):
    """``checks.robustness.feature_dropout.params``."""

    fill: Literal["null", "median"] = Field(
        default="null",
        description="What an unavailable feature holds: null, or its training median "
        "(numeric) / commonest category (categorical).",
    )


@check(
    "robustness.feature_dropout",
    domain="robustness",
    title="One feature unavailable",
    severity=Severity.MAJOR,
    thresholds=(
        Threshold("metric_drop", warn=0.05, fail=0.15, direction="max"),
        Threshold("flip_rate", direction="max"),
        *COMMON_THRESHOLDS,
    ),
    requires=("target", "model"),
    options=DropoutOptions,
    min_rows=MIN_ROWS,
    remediation="A model that collapses when one feature goes missing depends on it alone: "
    "monitor that feature's pipeline, impute it inside the model, or train with feature "
    "dropout so the others can carry the prediction.",
)
def feature_dropout(ctx: Context, params: CheckParams) -> list[Finding]:
    """Each feature in turn null (or at its training median); one finding per feature."""
    options = params.options
    assert isinstance(options, DropoutOptions)
    findings: list[Finding] = []
    for item in samples(ctx, params):
        if isinstance(item, Finding):
            findings.append(item)
            continue
        if not item.table.num_columns:
            findings.append(skipped(params, item, "the model reads no feature"))
            continue
        outcomes = [
            assess(ctx, item, _unavailable(item, column, options.fill), column)
            for column in item.table.column_names
        ]
        evidence = evidence_of(ctx, "feature_dropout", item, outcomes, None, fill=options.fill)
        refs = (ctx.manifest(item.dataset), evidence)
        verb = "null" if options.fill == "null" else "at its training median"

        def describe(column: object, verb: str = verb) -> str:
            return f"with {column} {verb}"

        for outcome in outcomes:
            metrics = level_metrics(item, [outcome], outcome)
            for key in ("max_flip_rate", "max_metric_drop"):
                metrics.pop(key)
            findings.append(
                judge(
                    params,
                    column_subject(item.dataset, str(outcome.level)),
                    metrics,
                    message=summary(item, [outcome], outcome, describe),
                    undefined=undefined_reasons(metrics, outcome),
                    evidence=refs,
                )
            )
    return findings


def _unavailable(sample: Sample, column: str, fill: str) -> pa.Table:
    facts = sample.facts[column]
    if fill == "median":
        if facts.kind == "numeric" and facts.median is not None and np.isfinite(facts.median):
            return fill_column(sample.table, column, facts.median)
        if facts.kind == "categorical" and facts.categories:
            return fill_column(sample.table, column, facts.categories[0])
    return null_column(sample.table, column)
