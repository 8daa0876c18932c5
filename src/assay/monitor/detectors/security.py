"""``security_anomaly``: authentication failures, unknown keys, and keys out of pattern.

Two detectors share the signal and its window:

``auth`` (subject ``auth``), fed every request's authentication outcome — a count window
counts requests: ``auth_failures`` (failed authentications) and ``unknown_keys`` (distinct
key ids the service never issued) in the window; ``keys`` are those unknown ids and the known
keys that failed. It reports every window, zeros included, so an incident can see a burst end.

Per key (subject: the key id), fed the ingested events — a count window counts events:

* ``key_rate_ratio`` — the key's events in this window ÷ the mean of its events over its
  previous ``detection.key_rate_baseline_windows`` windows (its history starts the window it
  is first seen, with zeros for windows it was silent; it is forgotten after that many silent
  windows). A key without history has no ratio yet: a new key is judged from its second
  window, and a restart begins every history afresh.
* ``key_spread`` — how widely the key's queries spread over the feature space, relative to
  the reference: the mean, over the numeric features, of the standard deviation of the key's
  values in the window in reference standard deviations (≈ 1 for traffic like the reference;
  well above 1 for inputs swept across the feature ranges, as model-extraction and
  membership probes do; below 1 for a key replaying a narrow slice). Reported for keys with
  at least :data:`SPREAD_MIN_EVENTS` events, over features with at least that many values.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from assay.monitor.detectors.events import MAX_IDS, Observation
from assay.monitor.detectors.view import BatchView
from assay.monitor.detectors.windows import Windowed
from assay.spec.monitor import Window

SPREAD_MIN_EVENTS = 30
UNKNOWN_CAP = 10_000
"""Distinct unknown key ids counted per window at most (an attacker can mint any number)."""


class AuthAnomaly(Windowed):
    def __init__(self, window: Window, start: float) -> None:
        super().__init__("security_anomaly", window, start)
        self.failures = 0
        self.unknown: set[str] = set()
        self.capped = False
        self.involved: dict[str, None] = {}

    def observe(self, key_id: str | None, ok: bool, known: bool, now: float) -> list[Observation]:
        def add(lo: int, hi: int) -> None:
            if not ok:
                self.failures += 1
            if key_id is None:
                return
            if not known:
                if len(self.unknown) < UNKNOWN_CAP:
                    self.unknown.add(key_id)
                elif key_id not in self.unknown:
                    self.capped = True
            if (not ok or not known) and len(self.involved) < MAX_IDS:
                self.involved[key_id] = None

        return self.feed(1, add, now)

    def close(self, start: float, end: float) -> list[Observation]:
        metrics = {"auth_failures": float(self.failures), "unknown_keys": float(len(self.unknown))}
        details = {"requests": self.n, "unknown_keys_capped": self.capped}
        keys = tuple(self.involved)
        self.failures, self.unknown, self.capped, self.involved = 0, set(), False, {}
        return [
            Observation(
                "security_anomaly",
                "auth",
                self.key,
                metrics,
                start,
                end,
                self.n,
                keys=keys,
                details=details,
            )
        ]

    def footprint(self) -> int:
        return 8 * (len(self.unknown) + len(self.involved))


class KeyState:
    """One key's accumulators over the current window."""

    __slots__ = ("events", "ids", "ood", "spread")

    def __init__(self, features: int) -> None:
        self.events = 0
        self.ood = 0
        self.spread = np.zeros((3, features))  # per numeric feature: count, Σz, Σz²
        self.ids: deque[str] = deque(maxlen=MAX_IDS)


class KeyAnomaly(Windowed):
    def __init__(self, window: Window, start: float, history: int, features: int) -> None:
        super().__init__("security_anomaly", window, start)
        self.history_windows = history
        self.features = features
        self.current: dict[str, KeyState] = {}
        self.history: dict[str, deque[int]] = {}
        self.forgotten: list[str] = []
        """Keys dropped from the history since the owner last looked (it drops their latest
        observations too)."""

    def observe(self, view: BatchView, now: float) -> list[Observation]:
        codes, names = view.keys
        if not names:
            return self.feed(view.size, lambda lo, hi: None, now)
        z = view.inputs.z if self.features else None
        ood = view.ood

        def add(lo: int, hi: int) -> None:
            part = codes[lo:hi]
            keyed = part >= 0
            if not keyed.any():
                return
            count = np.bincount(part[keyed], minlength=len(names))
            flagged = np.bincount(part[keyed], weights=ood[lo:hi][keyed], minlength=len(names))
            sums = self._spread(z[:, lo:hi], part, len(names)) if z is not None else None
            for k in np.flatnonzero(count).tolist():
                state = self.current.get(names[k])
                if state is None:
                    state = self.current[names[k]] = KeyState(self.features)
                state.events += int(count[k])
                state.ood += int(flagged[k])
                if sums is not None:
                    state.spread += sums[:, k, :]
                rows = np.flatnonzero(part == k)[-MAX_IDS:] + lo
                state.ids.extend(view.ids[rows].tolist())

        return self.feed(view.size, add, now)

    def _spread(self, z: np.ndarray, part: np.ndarray, keys: int) -> np.ndarray:
        """Per key and numeric feature: count, Σz and Σz² of the present values (3 × K × F)."""
        f = z.shape[0]
        slots = part[None, :] * f + np.arange(f)[:, None]
        use = np.isfinite(z) & (part >= 0)[None, :]
        at, values = slots[use], z[use]
        size = keys * f
        out = np.stack(
            [
                np.bincount(at, minlength=size),
                np.bincount(at, weights=values, minlength=size),
                np.bincount(at, weights=values * values, minlength=size),
            ]
        )
        return out.reshape(3, keys, f)

    def close(self, start: float, end: float) -> list[Observation]:
        out = []
        for key, state in self.current.items():
            metrics: dict[str, float] = {}
            past = self.history.get(key)
            mean = float(np.mean(past)) if past else 0.0
            if mean > 0:
                metrics["key_rate_ratio"] = state.events / mean
            spread = key_spread(state.spread) if state.events >= SPREAD_MIN_EVENTS else None
            if spread is not None:
                metrics["key_spread"] = spread
            if not metrics:
                continue
            details = {
                "events": state.events,
                "history_mean": mean if past else None,
                "history_windows": len(past) if past else 0,
                "ood_share": state.ood / state.events,
            }
            out.append(
                Observation(
                    "security_anomaly",
                    key,
                    self.key,
                    metrics,
                    start,
                    end,
                    state.events,
                    tuple(state.ids),
                    keys=(key,),
                    details=details,
                )
            )
        self._remember({key: state.events for key, state in self.current.items()})
        self.current = {}
        return out

    def skipped(self, periods: int) -> None:
        for _ in range(min(periods, self.history_windows)):
            self._remember({})

    def _remember(self, counts: dict[str, int]) -> None:
        for key in counts:
            if key not in self.history:
                self.history[key] = deque(maxlen=self.history_windows)
        for key in list(self.history):
            past = self.history[key]
            past.append(counts.get(key, 0))
            if not any(past) and len(past) == past.maxlen:
                del self.history[key]
                self.forgotten.append(key)

    def footprint(self) -> int:
        state = sum(s.spread.nbytes + 8 * len(s.ids) + 16 for s in self.current.values())
        return state + sum(8 * len(h) + 16 for h in self.history.values())


def key_spread(spread: np.ndarray) -> float | None:
    """Mean over features (with enough values) of the key's std in reference stds."""
    count, total, squares = spread
    enough = count >= SPREAD_MIN_EVENTS
    if not enough.any():
        return None
    n = count[enough]
    mean = total[enough] / n
    variance = np.maximum(squares[enough] / n - mean * mean, 0.0)
    return float(np.mean(np.sqrt(variance)))
