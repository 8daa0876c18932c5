"""The live watch's baseline: a compact summary of an audited reference profile.

The monitor compares windows of live traffic with the reference the audit approved. It needs
a few numbers per column, not the profile's sketches, so the audit path distils them once:

* a numeric column keeps quantile bin edges (the reference's deciles by default, from the
  exact values or the KLL sketch, deduplicated), the reference share and mean of each bin,
  its null share, min, max, mean and standard deviation;
* a categorical column (boolean, text with few values, integers with few values) keeps the
  share of its commonest categories (at most :data:`MAX_CATEGORIES`), the share of all the
  others together, and whether the listed categories are all there are.

Bins are ``(-inf, e0), [e0, e1), …, [e_last, +inf)`` for edges ``e0 < e1 < … < e_last``: a
value goes to bin ``searchsorted(edges, value, side="right")``. Shares are of the present
(finite, or non-null) values; nulls and NaN are counted apart, in ``null_share``.

A baseline file is JSON with ``"format": 1``; a format this Assay cannot read is refused with
the formats it can. This module lives in :mod:`assay.profiles` because the audit builds it and
the audit never imports :mod:`assay.monitor` (docs/monitor-detectors.md).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from assay.profiles.column import ColumnProfile
from assay.profiles.kll import items_and_weights
from assay.profiles.table import TableProfile

FORMAT = 1
READABLE_FORMATS = (FORMAT,)

MAX_CATEGORIES = 50
"""A categorical summary lists at most this many categories; the rest share ``other``."""

#: Column kinds summarised without being asked (text only when listed as a feature).
DEFAULT_KINDS = ("numeric", "categorical", "boolean")

Category = str | float


@dataclass(frozen=True)
class NumericSummary:
    """A numeric column: bin edges, reference share and mean per bin, range and moments."""

    edges: tuple[float, ...]
    shares: tuple[float, ...]
    means: tuple[float, ...]
    """The reference mean of each bin's values (the bin's midpoint, or its one finite edge,
    where the reference has no value in it)."""
    null_share: float
    count: int
    """Finite reference values the shares are of."""
    min: float
    max: float
    mean: float
    std: float
    exact: bool
    """Whether the shares come from every value (``False``: from the KLL sketch)."""
    kind: Literal["numeric"] = "numeric"

    @property
    def bins(self) -> int:
        return len(self.shares)


@dataclass(frozen=True)
class CategoricalSummary:
    """A categorical column: the share of each listed category, and of all the others."""

    categories: tuple[Category, ...]
    shares: tuple[float, ...]
    other: float
    complete: bool
    """Whether the listed categories are every category of the reference (then a value not
    listed is one the reference never had)."""
    numeric_keys: bool
    """Categories are numbers (integer or boolean columns; ``True`` is 1.0) rather than text."""
    null_share: float
    count: int
    kind: Literal["categorical"] = "categorical"

    @property
    def bins(self) -> int:
        """Listed categories plus the ``other`` bin."""
        return len(self.shares) + 1


ColumnSummary = NumericSummary | CategoricalSummary


@dataclass(frozen=True)
class Baseline:
    """What the live watch compares against: per-column summaries and the audited figures."""

    columns: Mapping[str, ColumnSummary]
    features: tuple[str, ...]
    target: str | None = None
    prediction: str | None = None
    score: str | None = None
    accuracy: float | None = None
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    rows: int = 0
    bins: int = 10
    skipped: Mapping[str, str] = field(default_factory=dict)
    """Columns asked for or defaulted to but not summarised, with the reason."""

    @property
    def score_summary(self) -> ColumnSummary | None:
        return self.columns.get(self.score) if self.score is not None else None

    @property
    def prediction_summary(self) -> ColumnSummary | None:
        return self.columns.get(self.prediction) if self.prediction is not None else None

    # Building --------------------------------------------------------------------------------

    @classmethod
    def from_profile(
        cls,
        profile: TableProfile,
        *,
        features: Sequence[str] | None,
        target: str | None,
        prediction: str | None,
        score: str | None,
        accuracy: float | None = None,
        latency_p95_ms: float | None = None,
        latency_p99_ms: float | None = None,
        bins: int = 10,
    ) -> Baseline:
        """Summarise ``profile`` for the live watch.

        ``features`` default to every numeric, categorical or boolean column but the target,
        the prediction and the score; listed features may also be text (summarised by their
        commonest values). A column that cannot be summarised (no values, a date, nested
        values), and a prediction or score column the reference does not have, is left out
        and named in :attr:`skipped`. A listed feature missing from the profile is a
        ``ValueError`` listing the profile's columns.
        """
        if bins < 2:
            raise ValueError(f"bins must be at least 2, got {bins}")
        named = [c for c in (target, prediction, score) if c is not None]
        listed = list(features) if features is not None else None
        missing = [c for c in listed or [] if c not in profile.columns]
        if missing:
            raise ValueError(
                f"the reference profile has no column {', '.join(map(repr, missing))}; "
                f"its columns: {', '.join(profile.columns) or 'none'}"
            )
        if listed is None:
            listed = [c for c in profile.columns if c not in named]
            kinds: tuple[str, ...] = DEFAULT_KINDS
        else:
            kinds = (*DEFAULT_KINDS, "text")
        columns: dict[str, ColumnSummary] = {}
        skipped: dict[str, str] = {}
        for name in dict.fromkeys([*listed, *(c for c in (prediction, score) if c)]):
            if name not in profile.columns:  # a reference without the model's outputs
                skipped[name] = "not in the reference profile"
                continue
            summary, reason = summarise(profile[name], bins=bins, kinds=kinds)
            if summary is None:
                skipped[name] = reason
            else:
                columns[name] = summary
        return cls(
            columns=columns,
            features=tuple(f for f in listed if f in columns),
            target=target,
            prediction=prediction,
            score=score,
            accuracy=accuracy,
            latency_p95_ms=latency_p95_ms,
            latency_p99_ms=latency_p99_ms,
            rows=profile.rows,
            bins=bins,
            skipped=skipped,
        )

    # File format -------------------------------------------------------------------------------

    def to_json(self) -> bytes:
        data = {
            "format": FORMAT,
            "features": list(self.features),
            "target": self.target,
            "prediction": self.prediction,
            "score": self.score,
            "accuracy": self.accuracy,
            "latency_p95_ms": self.latency_p95_ms,
            "latency_p99_ms": self.latency_p99_ms,
            "rows": self.rows,
            "bins": self.bins,
            "skipped": dict(self.skipped),
            "columns": {name: _summary_json(s) for name, s in self.columns.items()},
        }
        return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Baseline:
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ValueError(f"not an Assay baseline: {exc}") from None
        version = data.get("format") if isinstance(data, dict) else None
        if version not in READABLE_FORMATS:
            raise ValueError(
                f"baseline format {version!r} is not one this Assay reads "
                f"(readable formats: {', '.join(map(str, READABLE_FORMATS))}); "
                "re-create the baseline with this version's audit"
            )
        try:
            return cls(
                columns={n: _summary_from_json(s) for n, s in data["columns"].items()},
                features=tuple(data["features"]),
                target=data["target"],
                prediction=data["prediction"],
                score=data["score"],
                accuracy=data["accuracy"],
                latency_p95_ms=data["latency_p95_ms"],
                latency_p99_ms=data["latency_p99_ms"],
                rows=int(data["rows"]),
                bins=int(data["bins"]),
                skipped=dict(data["skipped"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"the baseline is damaged ({exc!r}); re-create it") from None


# Summaries ----------------------------------------------------------------------------------


def summarise(
    column: ColumnProfile, *, bins: int = 10, kinds: Sequence[str] = DEFAULT_KINDS
) -> tuple[ColumnSummary | None, str]:
    """One column's summary, or ``None`` and why not."""
    kind = column.kind
    if kind not in kinds:
        hint = " (list it as a feature to watch its commonest values)" if kind == "text" else ""
        return None, f"{kind} column{hint}"
    if column.present == 0:
        return None, "no values in the reference"
    if kind == "numeric":
        return _numeric(column, bins), ""
    return _categorical(column)


def _numeric(column: ColumnProfile, bins: int) -> NumericSummary:
    ranks = np.linspace(0.0, 1.0, bins + 1)[1:-1]
    quantiles = column.quantiles(ranks)
    if column.values is not None and column.values.size:
        points = np.asarray(column.values, dtype=np.float64)
        weights = np.ones(points.size)
    else:
        assert column.kll is not None
        points, weights = items_and_weights(column.kll)
    assert quantiles is not None  # present > 0 and numeric: values or a non-empty sketch
    edges = np.unique(np.asarray(quantiles, dtype=np.float64))
    index = np.searchsorted(edges, points, side="right")
    counts = np.bincount(index, weights=weights, minlength=edges.size + 1)
    sums = np.bincount(index, weights=weights * points, minlength=edges.size + 1)
    low, high = float(column.min), float(column.max)
    bounds = np.concatenate(([low], edges, [high]))
    fallback = (bounds[:-1] + bounds[1:]) / 2.0
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.where(counts > 0, counts, 1.0), fallback)
    total = float(counts.sum())
    return NumericSummary(
        edges=tuple(float(e) for e in edges),
        shares=tuple(float(c) / total for c in counts),
        means=tuple(float(m) for m in means),
        null_share=column.missing / column.count if column.count else 0.0,
        count=int(column.n_finite),
        min=low,
        max=high,
        mean=float(column.mean),
        std=float(column.std or 0.0),
        exact=column.values is not None,
    )


def _categorical(column: ColumnProfile) -> tuple[CategoricalSummary | None, str]:
    items = column.items
    if items.dropped or not items.counts:
        return None, "no category counts in the reference profile"
    numeric = column.logical in ("integer", "float", "boolean")
    top = items.top(MAX_CATEGORIES)
    present = column.present
    categories: list[Category] = [float(v) if numeric else str(v) for v, _ in top]
    shares = [n / present for _, n in top]
    complete = items.exact and len(items.counts) <= MAX_CATEGORIES
    return (
        CategoricalSummary(
            categories=tuple(categories),
            shares=tuple(shares),
            other=0.0 if complete else max(0.0, 1.0 - math.fsum(shares)),
            complete=complete,
            numeric_keys=numeric,
            null_share=column.missing / column.count if column.count else 0.0,
            count=int(present),
        ),
        "",
    )


def _summary_json(s: ColumnSummary) -> dict[str, Any]:
    if isinstance(s, NumericSummary):
        return {
            "kind": s.kind,
            "edges": list(s.edges),
            "shares": list(s.shares),
            "means": list(s.means),
            "null_share": s.null_share,
            "count": s.count,
            "min": s.min,
            "max": s.max,
            "mean": s.mean,
            "std": s.std,
            "exact": s.exact,
        }
    return {
        "kind": s.kind,
        "categories": list(s.categories),
        "shares": list(s.shares),
        "other": s.other,
        "complete": s.complete,
        "numeric_keys": s.numeric_keys,
        "null_share": s.null_share,
        "count": s.count,
    }


def _floats(values: Sequence[Any]) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


def _summary_from_json(d: Mapping[str, Any]) -> ColumnSummary:
    if d["kind"] == "numeric":
        numbers = NumericSummary(
            edges=_floats(d["edges"]),
            shares=_floats(d["shares"]),
            means=_floats(d["means"]),
            null_share=float(d["null_share"]),
            count=int(d["count"]),
            min=float(d["min"]),
            max=float(d["max"]),
            mean=float(d["mean"]),
            std=float(d["std"]),
            exact=bool(d["exact"]),
        )
        if len(numbers.shares) != len(numbers.edges) + 1 or len(numbers.means) != numbers.bins:
            raise ValueError("a numeric summary needs one share and one mean per bin")
        return numbers
    if d["kind"] == "categorical":
        numeric = bool(d["numeric_keys"])
        categories = tuple(float(c) if numeric else str(c) for c in d["categories"])
        summary = CategoricalSummary(
            categories=categories,
            shares=_floats(d["shares"]),
            other=float(d["other"]),
            complete=bool(d["complete"]),
            numeric_keys=numeric,
            null_share=float(d["null_share"]),
            count=int(d["count"]),
        )
        if len(categories) != len(summary.shares):
            raise ValueError("a categorical summary needs one share per category")
        return summary
    raise ValueError(f"unknown column kind {d['kind']!r}")
