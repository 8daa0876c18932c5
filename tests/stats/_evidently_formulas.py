"""Evidently's drift formulas, restated independently for conformance tests.

Source read: Evidently 0.7.23 (the PyPI wheel), files
``evidently/legacy/calculations/stattests/utils.py`` (``get_binned_data``),
``.../psi.py`` (``_psi``), ``.../jensenshannon.py`` (``_jensenshannon``) and
``.../wasserstein_distance_norm.py`` (``_wasserstein_distance_norm``). Evidently drops NaN and
±inf from both columns before calling a stattest (``.../data_drift.py``,
``get_one_column_drift``). This module restates those definitions with pandas and numpy so the
tests compare Assay against the published behaviour without installing Evidently.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import distance


def binned_percents(
    reference: pd.Series[Any], current: pd.Series[Any], *, numerical: bool, fill_zeroes: bool
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """get_binned_data: Sturges bins over both columns when the reference has > 20 values."""
    if numerical and reference.nunique() > 20:
        both = np.asarray(pd.concat([reference, current], axis=0).values)
        edges = np.histogram_bin_edges(both, bins="sturges")
        ref = np.histogram(reference, edges)[0] / len(reference)
        cur = np.histogram(current, edges)[0] / len(current)
    else:
        keys = sorted(set(reference.dropna().unique()) | set(current.dropna().unique()), key=repr)
        ref_counts = reference.value_counts().to_dict()
        cur_counts = current.value_counts().to_dict()
        ref = np.array([ref_counts.get(k, 0) / len(reference) for k in keys])
        cur = np.array([cur_counts.get(k, 0) / len(current) for k in keys])
    if fill_zeroes:
        ref, cur = _fill(ref), _fill(cur)
    return ref, cur


def _fill(percents: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    smallest = percents[percents != 0].min()
    out = percents.copy()
    out[out == 0] = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return out


def psi(reference: pd.Series[Any], current: pd.Series[Any], *, numerical: bool) -> float:
    ref, cur = binned_percents(reference, current, numerical=numerical, fill_zeroes=True)
    return float(np.sum((ref - cur) * np.log(ref / cur)))


def jensenshannon(reference: pd.Series[Any], current: pd.Series[Any], *, numerical: bool) -> float:
    ref, cur = binned_percents(reference, current, numerical=numerical, fill_zeroes=False)
    return float(distance.jensenshannon(ref, cur, None))


def wasserstein_norm(reference: pd.Series[Any], current: pd.Series[Any]) -> float:
    norm = max(float(np.std(reference)), 0.001)
    return float(stats.wasserstein_distance(reference, current) / norm)
