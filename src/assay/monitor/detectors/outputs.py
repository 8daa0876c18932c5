"""``suspicious_output``: personal data in output text, invalid predictions, unusual inputs.

Per window it counts events, events with an output text, and the events flagged by each
test — all from per-batch boolean masks (:class:`~assay.monitor.detectors.view.BatchView`):

* ``pii_rate`` — share of the output texts present holding personal data or a secret, as
  :func:`assay.privacy.scan_array` finds them (its vectorised prefilter, then validators);
* ``invalid_rate`` — share of events whose prediction is infinite, outside
  ``detection.prediction_range``, or NaN/absent when the reference has a prediction column;
* ``ood_rate`` — share of events with a watched feature out of distribution: a number outside
  the reference's [min, max] widened by 10 % of its range on each side (a constant column:
  10 % of its magnitude, at least 0.1), a value that is not a number where the reference
  had numbers, or a category the reference never had (when its categories are all listed);
* ``suspicious_rate`` — share of events with any of the three.

The observation names the suspicious events (the window's latest 1,000) and their sessions.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from assay.monitor.detectors.events import MAX_IDS, Observation
from assay.monitor.detectors.view import BatchView
from assay.monitor.detectors.windows import Windowed
from assay.spec.monitor import Window


class SuspiciousOutput(Windowed):
    def __init__(self, window: Window, start: float) -> None:
        super().__init__("suspicious_output", window, start)
        self.texts = self.pii = self.invalid = self.ood = self.suspicious = 0
        self.ids: deque[str] = deque(maxlen=MAX_IDS)
        self.sessions: deque[str] = deque(maxlen=MAX_IDS)

    def observe(self, view: BatchView, now: float) -> list[Observation]:
        texts, pii, invalid, ood = view.texts, view.pii, view.invalid, view.ood
        flagged = pii | invalid | ood

        def add(lo: int, hi: int) -> None:
            part = slice(lo, hi)
            self.texts += int(np.count_nonzero(texts[part]))
            self.pii += int(np.count_nonzero(pii[part]))
            self.invalid += int(np.count_nonzero(invalid[part]))
            self.ood += int(np.count_nonzero(ood[part]))
            rows = np.flatnonzero(flagged[part])
            if rows.size:
                self.suspicious += int(rows.size)
                rows = (rows + lo)[-MAX_IDS:].tolist()
                batch = view.batch
                self.ids.extend(batch.ids[i] for i in rows)
                self.sessions.extend(s for i in rows if (s := batch.session_id[i]) is not None)

        return self.feed(view.size, add, now)

    def close(self, start: float, end: float) -> list[Observation]:
        n = self.n
        metrics = {
            "invalid_rate": self.invalid / n if n else 0.0,
            "ood_rate": self.ood / n if n else 0.0,
            "suspicious_rate": self.suspicious / n if n else 0.0,
        }
        if self.texts:
            metrics["pii_rate"] = self.pii / self.texts
        details = {
            "texts": self.texts,
            "pii": self.pii,
            "invalid": self.invalid,
            "ood": self.ood,
            "suspicious": self.suspicious,
        }
        ids, sessions = tuple(self.ids), tuple(dict.fromkeys(self.sessions))
        self.texts = self.pii = self.invalid = self.ood = self.suspicious = 0
        self.ids.clear()
        self.sessions.clear()
        if not n:
            return []
        return [
            Observation(
                "suspicious_output",
                "model",
                self.key,
                metrics,
                start,
                end,
                n,
                ids,
                sessions,
                details=details,
            )
        ]

    def footprint(self) -> int:
        return 8 * (len(self.ids) + len(self.sessions))
