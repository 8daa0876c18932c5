"""``input_shift`` and ``score_shift``: binned drift of a window against the baseline.

A window keeps, per watched column, the count of values in each baseline bin (and in the
null slot) and, for numbers, the sum of the values in each bin — one ``np.bincount`` of the
batch's codes each, whatever the history. When the window closes:

* PSI = Σ (r − c)·ln(r / c) over the column's bins, on the reference shares r and the
  window's shares c of present values, each with empty bins filled by
  :func:`assay.stats.binned.smooth_zero_shares` (Evidently's fill);
* Wasserstein-1 between the two binned distributions, each bin's mass placed at the mean of
  the values in it (the reference's from the baseline, the window's from its sums), divided
  by ``max(reference std, 0.001)`` as Evidently's ``wasserstein_distance_norm`` does.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from assay.monitor.detectors.events import MAX_IDS, Observation
from assay.monitor.detectors.view import BatchView, Coder, Encoded, NumericCoder, Plan
from assay.monitor.detectors.windows import Windowed
from assay.spec.monitor import Window
from assay.stats.binned import smooth_zero_shares


def psi(ref: np.ndarray, counts: np.ndarray) -> float:
    """PSI of a window's bin counts against smoothed reference shares."""
    cur = smooth_zero_shares(counts / counts.sum())
    return float(np.sum((ref - cur) * np.log(ref / cur)))


def w1_atoms(
    a_points: np.ndarray, a_weights: np.ndarray, b_points: np.ndarray, b_weights: np.ndarray
) -> float:
    """Wasserstein-1 distance between two weighted point sets: ∫ |F_a − F_b| dx."""
    points = np.concatenate([a_points, b_points])
    signed = np.concatenate([a_weights / a_weights.sum(), -b_weights / b_weights.sum()])
    order = np.argsort(points, kind="stable")
    gap = np.cumsum(signed[order])[:-1]
    return float(np.sum(np.abs(gap) * np.diff(points[order])))


def column_shift(coder: Coder, counts: np.ndarray, sums: np.ndarray) -> dict[str, Any]:
    """One column's window figures: ``n``, ``null_share`` and, with values, ``psi`` (and
    ``wasserstein`` for numbers). ``counts``/``sums`` cover the column's bins and null slot."""
    values = counts[: coder.bins]
    present = float(values.sum())
    nulls = float(counts[coder.bins])
    entry: dict[str, Any] = {
        "n": int(present),
        "null_share": nulls / (present + nulls) if present + nulls else 0.0,
        "ref_null_share": coder.summary.null_share,
    }
    if present == 0:
        return entry
    entry["psi"] = psi(coder.ref, values)
    if isinstance(coder, NumericCoder):
        filled = values > 0
        means = np.where(filled, sums[: coder.bins] / np.where(filled, values, 1.0), 0.0)
        distance = w1_atoms(coder.ref_means, coder.ref_raw, means[filled], values[filled])
        entry["wasserstein"] = distance / coder.norm
    return entry


class ShiftDetector(Windowed):
    """Per-bin counts and sums of a plan's columns over a window."""

    def __init__(
        self,
        signal: str,
        window: Window,
        start: float,
        plan: Plan,
        encoded: Callable[[BatchView], Encoded],
    ) -> None:
        super().__init__(signal, window, start)
        self.plan = plan
        self._encoded = encoded
        self.counts = np.zeros(plan.total)
        self.sums = np.zeros(plan.total)
        self.ids: deque[str] = deque(maxlen=MAX_IDS)

    def observe(self, view: BatchView, now: float) -> list[Observation]:
        enc = self._encoded(view)
        total = self.plan.total

        def add(lo: int, hi: int) -> None:
            whole = lo == 0 and hi == view.size
            codes = enc.codes.ravel() if whole else enc.codes[:, lo:hi].ravel()
            vals = enc.vals.ravel() if whole else enc.vals[:, lo:hi].ravel()
            self.counts += np.bincount(codes, minlength=total)
            self.sums += np.bincount(codes, weights=vals, minlength=total)
            self.ids.extend(view.batch.ids[lo:hi])

        return self.feed(view.size, add, now)

    def columns(self) -> dict[str, dict[str, Any]]:
        out = {}
        for coder, offset in zip(self.plan.coders, self.plan.offsets.tolist(), strict=True):
            part = slice(offset, offset + coder.slots)
            out[coder.name] = column_shift(coder, self.counts[part], self.sums[part])
        return out

    def reset(self) -> tuple[str, ...]:
        ids = tuple(self.ids)
        self.counts[:] = 0.0
        self.sums[:] = 0.0
        self.ids.clear()
        return ids

    def footprint(self) -> int:
        return int(self.counts.nbytes + self.sums.nbytes + 8 * len(self.ids))


class InputShift(ShiftDetector):
    """``input_shift`` (subject ``inputs``): PSI and Wasserstein of every watched feature."""

    def __init__(self, window: Window, start: float, plan: Plan, drift_psi: float) -> None:
        super().__init__("input_shift", window, start, plan, lambda view: view.inputs)
        self.drift_psi = drift_psi

    def close(self, start: float, end: float) -> list[Observation]:
        n = self.n
        columns = self.columns()
        ids = self.reset()
        scored = {name: c for name, c in columns.items() if "psi" in c}
        if not n or not scored:
            return []
        drifted = [name for name, c in scored.items() if c["psi"] >= self.drift_psi]
        for name, c in scored.items():
            c["drifted"] = name in drifted
        metrics = {
            "share_drifted": len(drifted) / len(scored),
            "max_psi": max(c["psi"] for c in scored.values()),
        }
        distances = [c["wasserstein"] for c in scored.values() if "wasserstein" in c]
        if distances:
            metrics["max_wasserstein"] = max(distances)
        details = {
            "psi": {name: c["psi"] for name, c in scored.items()},
            "features": columns,
            "drifted": drifted,
            "missing": [name for name in columns if name not in scored],
            "drift_psi": self.drift_psi,
        }
        return [
            Observation(
                "input_shift", "inputs", self.key, metrics, start, end, n, ids, details=details
            )
        ]


class ScoreShift(ShiftDetector):
    """``score_shift`` (subject ``model``): PSI (and Wasserstein for numbers) of the score,
    or of the prediction when the reference has no score."""

    def __init__(self, window: Window, start: float, plan: Plan, field: str) -> None:
        super().__init__("score_shift", window, start, plan, lambda view: view.output)
        self.field = field

    def close(self, start: float, end: float) -> list[Observation]:
        n = self.n
        ((name, column),) = self.columns().items()
        ids = self.reset()
        if not n or "psi" not in column:
            return []
        metrics = {"psi": column["psi"]}
        if "wasserstein" in column:
            metrics["wasserstein"] = column["wasserstein"]
        details = {"column": name, "field": self.field, **column}
        return [
            Observation(
                "score_shift", "model", self.key, metrics, start, end, n, ids, details=details
            )
        ]
