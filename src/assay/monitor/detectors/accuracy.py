"""``accuracy_drop``: accuracy over a window of labelled events, against the audited figure.

A label row is ``(event_id, prediction, score, label)``. It is correct when the prediction
equals the label; without a prediction, when ``score >= 0.5`` agrees with a 0/1 label (a
binary classifier's positive class); a row with neither is not counted. A count window
counts counted labels; a time window is on the service clock at the label's arrival.

``accuracy`` = correct ÷ counted, ``error_rate`` = 1 − accuracy, and, when the baseline has
an accuracy, ``accuracy_drop`` = baseline accuracy − accuracy (positive when worse). The
observation names the misclassified events (the window's latest 1,000).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np

from assay.monitor.detectors.events import MAX_IDS, Observation
from assay.monitor.detectors.windows import Windowed
from assay.spec.monitor import Window


def correctness(rows: Sequence[tuple[str, float, float, float]]) -> tuple[list[str], np.ndarray]:
    """The ids of the rows that can be judged, and whether each was right."""
    if not rows:
        return [], np.zeros(0, dtype=bool)
    table = np.array([(r[1], r[2], r[3]) for r in rows], dtype=np.float64).reshape(-1, 3)
    prediction, score, label = table[:, 0], table[:, 1], table[:, 2]
    has_prediction = np.isfinite(prediction)
    predicted = np.where(has_prediction, prediction, (score >= 0.5).astype(np.float64))
    usable = (has_prediction | np.isfinite(score)) & np.isfinite(label)
    ids = [r[0] for r, keep in zip(rows, usable.tolist(), strict=True) if keep]
    return ids, (predicted == label)[usable]


class AccuracyDrop(Windowed):
    def __init__(self, window: Window, start: float, baseline: float | None) -> None:
        super().__init__("accuracy_drop", window, start)
        self.baseline = baseline
        self.correct = 0
        self.wrong: deque[str] = deque(maxlen=MAX_IDS)

    def observe(
        self, rows: Sequence[tuple[str, float, float, float]], now: float
    ) -> list[Observation]:
        ids, right = correctness(rows)

        def add(lo: int, hi: int) -> None:
            part = right[lo:hi]
            self.correct += int(np.count_nonzero(part))
            self.wrong.extend(ids[lo + i] for i in np.flatnonzero(~part).tolist())

        return self.feed(len(ids), add, now)

    def close(self, start: float, end: float) -> list[Observation]:
        n, correct, wrong = self.n, self.correct, tuple(self.wrong)
        self.correct = 0
        self.wrong.clear()
        if not n:
            return []
        accuracy = correct / n
        metrics = {"accuracy": accuracy, "error_rate": 1.0 - accuracy}
        if self.baseline is not None:
            metrics["accuracy_drop"] = self.baseline - accuracy
        details = {"correct": correct, "labelled": n, "baseline_accuracy": self.baseline}
        return [
            Observation(
                "accuracy_drop", "model", self.key, metrics, start, end, n, wrong, details=details
            )
        ]

    def footprint(self) -> int:
        return 8 * len(self.wrong)
