"""Multiple-testing control across the columns of one drift comparison.

Example::

    from assay.stats import benjamini_hochberg

    benjamini_hochberg([0.01, None, 0.04, 0.03])   # [0.03, None, 0.04, 0.04]
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

P_VALUE_RANGE = "p-values must lie in [0, 1]; got {value!r} at position {index}."


def benjamini_hochberg(p_values: Sequence[float | None]) -> list[float | None]:
    """Benjamini–Hochberg adjusted p-values (false discovery rate), in the input's order.

    Equals ``scipy.stats.false_discovery_control(p, method="bh")`` on the p-values that are
    present. ``None`` (an effect-size test, or a skipped column) and NaN are passed through
    unchanged and do not count towards the number of tests. A column is drifted at level
    alpha when its adjusted p-value is below alpha; that keeps the expected share of false
    alarms among the drifted columns at most alpha.
    """
    present: list[int] = []
    values: list[float] = []
    for index, p in enumerate(p_values):
        if p is None or math.isnan(p):
            continue
        if not 0.0 <= p <= 1.0:
            raise ValueError(P_VALUE_RANGE.format(value=p, index=index))
        present.append(index)
        values.append(float(p))
    adjusted: list[float | None] = list(p_values)
    if values:
        corrected = _bh(np.asarray(values))
        for index, value in zip(present, corrected.tolist(), strict=True):
            adjusted[index] = float(value)
    return adjusted


def _bh(p: np.ndarray) -> np.ndarray:
    """``scipy.stats.false_discovery_control(p, method="bh")``, in NumPy.

    Sorted ascending, p_(i) · m / i, then the running minimum from the largest down, capped at 1.
    """
    m = p.size
    order = np.argsort(p)
    scaled = p[order] * (m / np.arange(1, m + 1))  # as scipy computes it, to the last bit
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out
