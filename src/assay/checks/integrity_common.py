"""Helpers shared by the data-integrity checks: subjects, grading, wording, JSON-safe values.

Subjects follow one format across the domain, so a finding can be found again across runs:

- ``train`` — a dataset;
- ``train:age`` — a column of a dataset;
- ``test vs train`` — a pair of datasets (the evaluated one first);
- ``lineage:<step name>`` — one lineage step, ``lineage`` — the end of the chain.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from assay.checks._context import Context
from assay.checks._registry import CheckParams, Finding, Metric, Status
from assay.sources.schema import logical_type

MAX_LISTED = 8
"""Names listed in a message before it says ``… and N more`` (the artefact lists all)."""

MAX_CLASSES = 100
"""A target with more distinct values than this is not treated as a class label."""

MAX_FLOAT_CLASSES = 20
"""A float target with more distinct values than this is treated as a regression target."""

_RANK = {Status.PASS: 0, Status.WARN: 1, Status.FAIL: 2}


def column_subject(dataset: str, column: str) -> str:
    """``train:age``."""
    return f"{dataset}:{column}"


def pair_subject(evaluated: str, reference: str) -> str:
    """``test vs train``."""
    return f"{evaluated} vs {reference}"


def worst(*statuses: Status) -> Status:
    """The most severe of PASS, WARN and FAIL."""
    return max(statuses, key=lambda s: _RANK[s])


def graded(
    params: CheckParams,
    subject: str,
    metrics: Mapping[str, Metric],
    names: Sequence[str],
    *,
    message: str,
    floor: Status = Status.PASS,
    undefined: Mapping[str, str] | None = None,
    evidence: tuple[str, ...] = (),
) -> Finding:
    """A finding graded by the worst of several thresholds (and at least ``floor``).

    The finding carries the threshold that decided its status: the first of ``names`` whose
    grade equals the final status, else the first of ``names``. Undefined metrics are not
    graded; the caller reports why in ``undefined``.
    """
    status = floor
    grades: list[tuple[str, Status]] = []
    for name in names:
        value = metrics.get(name)
        grade = params.thresholds[name].grade(None if value is None else float(value))
        if grade is not None:
            grades.append((name, grade))
            status = worst(status, grade)
    decisive = next((n for n, g in grades if g == status), names[0])
    return params.finding(
        subject,
        status=status,
        message=message,
        metrics=metrics,
        undefined=undefined,
        threshold=params.thresholds[decisive],
        evidence=evidence,
    )


def skipped(
    params: CheckParams, subject: str, reason: str, *, evidence: tuple[str, ...] = ()
) -> Finding:
    """A ``skipped`` finding that says why; never a pass."""
    return params.finding(
        subject, status=Status.SKIPPED, message=f"{subject}: {reason}.", evidence=evidence
    )


ABSENT_COLUMN = "the column is absent (integrity.schema reports it)"


def absent_column(params: CheckParams, subject: str, manifest: str) -> Finding:
    """The ``skipped`` finding for a declared column the data lacks."""
    return skipped(params, subject, ABSENT_COLUMN, evidence=(manifest,))


def pct(ratio: float) -> str:
    """A share as a percentage that never rounds a non-zero share to ``0.0%``."""
    if ratio == 0:
        return "0%"
    if ratio >= 0.001:
        return f"{ratio:.1%}"
    return f"{ratio * 100:.2g}%"


def plural(n: int, word: str, words: str | None = None) -> str:
    """``1 column``, ``3 columns``, ``1,204 rows``."""
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def listing(items: Iterable[str], *, limit: int = MAX_LISTED) -> str:
    """``a, b, c`` or ``a, b, c and 5 more``."""
    items = list(items)
    shown = ", ".join(items[:limit])
    return f"{shown} and {len(items) - limit} more" if len(items) > limit else shown


def show(value: Any, *, width: int = 40) -> str:
    """A value as messages quote it: ``'purple'``, ``3``, shortened past ``width``."""
    text = repr(plain(value))
    return text if len(text) <= width else text[: width - 1] + "…"


def plain(value: Any) -> Any:
    """A value that survives strict JSON: NaN and infinities become text, others ``str``."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return str(value)


def is_missing(value: Any) -> bool:
    """``None`` or a float NaN."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def label_text(value: Any) -> str:
    """How a class label compares: ``True`` and ``'true'`` alike, ``1.0`` and ``1`` alike."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def not_a_class_label(ctx: Context, name: str, target: str) -> str | None:
    """Why ``target`` of dataset ``name`` cannot be judged as class labels, or ``None``."""
    ds = ctx.dataset(name)
    if target not in ds.columns:
        return f"the target column {target!r} is not in the dataset"
    kind = logical_type(ds.schema.field(target).type)
    distinct = ctx.stats(name)[target].distinct
    if (
        kind in ("float", "date", "timestamp")
        and distinct is not None
        and distinct > MAX_FLOAT_CLASSES
    ):
        return (
            f"the target {target!r} holds {distinct:,} distinct {kind} values; "
            "it looks like a regression target, not class labels"
        )
    if kind == "other":
        return f"the target {target!r} has a nested type ({ds.schema.field(target).type})"
    if distinct is not None and distinct > MAX_CLASSES:
        return (
            f"the target {target!r} holds {distinct:,} distinct values, "
            f"more than {MAX_CLASSES} classes"
        )
    return None


def file_label(ctx: Context, name: str) -> str:
    """How messages name a dataset's data: its path as written in the spec, or in-memory."""
    ds = ctx.dataset(name)
    if ds.path is None:
        return "an in-memory table"
    return str(ds.spec.path) if ds.spec.path is not None else str(ds.path)
