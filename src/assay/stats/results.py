"""The record every drift statistic returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

EMPTY_SIDE = (
    "{test} needs at least one value on each side; got n_ref={n_ref}, n_cur={n_cur}. "
    "Skip the column as insufficient data before calling it."
)
KIND_MISMATCH = (
    "{test} compares two summaries of the same kind; got {ref} for the reference and {cur} "
    "for the current data."
)


@dataclass(frozen=True)
class DriftResult:
    """One drift statistic comparing a reference and a current summary.

    Attributes:
        test: the registry name of the statistic (``"ks"``, ``"psi"``, ...).
        statistic: the test statistic or effect size.
        p_value: the uncorrected p-value for hypothesis tests, None for effect sizes.
        n_ref, n_cur: the values (non-missing, finite) each side summarised.
        exact: True when both summaries were exact, so the value equals the reference
            implementation (scipy, or Evidently's formula) on the raw data.
        statistic_error: a bound on |statistic − its exact-data value|: 0.0 in exact mode, a
            number derived from the sketches' rank errors in sketch mode, and None when no
            useful bound is known (see docs/drift-statistics.md).
        details: further named numbers, per test (documented in docs/drift-statistics.md).
    """

    test: str
    statistic: float
    p_value: float | None
    n_ref: int
    n_cur: int
    exact: bool
    statistic_error: float | None = 0.0
    details: Mapping[str, float] = field(default_factory=dict, hash=False)


def require_values(test: str, n_ref: int, n_cur: int) -> None:
    """Raise ValueError when either side is empty."""
    if n_ref <= 0 or n_cur <= 0:
        raise ValueError(EMPTY_SIDE.format(test=test, n_ref=n_ref, n_cur=n_cur))
