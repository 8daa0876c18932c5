"""What the detectors read and write: a columnar batch of events, and one closed window.

:class:`EventBatch` is the columnar view of one validated ingest batch (NumPy arrays, one per
field and per feature), built once per batch so every detector works on arrays instead of
dictionaries. :class:`Observation` is one closed window of one signal for one subject: the
rule engine compares its metrics with the rules, the dashboard shows the latest of each.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MAX_IDS = 1000
"""Event ids, sessions and keys an observation carries at most."""

_NUMBER = (int, float, bool, np.integer, np.floating, np.bool_)
_PLAIN = frozenset({int, float, bool, type(None)})


@dataclass(frozen=True)
class EventBatch:
    """Columnar view of one validated ingest batch (all arrays the batch's length)."""

    ids: list[str]
    ts: np.ndarray
    """float64 epoch seconds (event timestamps; NaN when absent)."""
    model_version: list[str]
    session_id: list[str | None]
    key_id: list[str | None]
    features: dict[str, np.ndarray]
    """float64 for numeric features (NaN = missing), object for any other."""
    prediction: np.ndarray
    score: np.ndarray
    latency_ms: np.ndarray
    output_text: list[str | None]

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_records(cls, records: Sequence[Mapping[str, Any]]) -> EventBatch:
        """A batch from event dictionaries (``id``, ``timestamp``, ``model_version``,
        ``session_id``, ``api_key_id``, ``features``, ``prediction``, ``score``,
        ``latency_ms``, ``output_text``); a missing key is ``None`` or NaN.

        A feature is float64 when every present value is a number (booleans as 0/1) and an
        object array otherwise; a feature some records lack is missing (None/NaN) in those.
        """
        n = len(records)
        feats = [r.get("features") or {} for r in records]
        names: dict[str, None] = {}
        for f in feats:
            names.update(dict.fromkeys(f))
        features = {name: _column([f.get(name) for f in feats]) for name in names}
        return cls(
            ids=[str(r.get("id", "")) for r in records],
            ts=_floats([r.get("timestamp") for r in records], n),
            model_version=[str(r.get("model_version") or "") for r in records],
            session_id=[_text(r.get("session_id")) for r in records],
            key_id=[_text(r.get("api_key_id")) for r in records],
            features=features,
            prediction=_floats([r.get("prediction") for r in records], n),
            score=_floats([r.get("score") for r in records], n),
            latency_ms=_floats([r.get("latency_ms") for r in records], n),
            output_text=[_text(r.get("output_text")) for r in records],
        )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _floats(values: list[Any], n: int) -> np.ndarray:
    """float64 with None → NaN; a value that is not a number is NaN too."""
    try:
        return np.array(values, dtype=np.float64).reshape(n)
    except (TypeError, ValueError):
        return np.array([to_float(v) for v in values], dtype=np.float64).reshape(n)


def to_float(value: Any) -> float:
    if isinstance(value, _NUMBER):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return math.nan
    return math.nan


def _column(values: list[Any]) -> np.ndarray:
    """float64 when every present value is a number, else an object array."""
    types = set(map(type, values))
    if types <= _PLAIN or all(issubclass(t, _NUMBER) or t is type(None) for t in types):
        return np.array(values, dtype=np.float64)
    column = np.empty(len(values), dtype=object)
    column[:] = values
    return column


@dataclass(frozen=True)
class Observation:
    """One closed window of one signal for one subject."""

    signal: str
    subject: str
    window: str
    metrics: dict[str, float]
    start: float
    end: float
    n: int
    event_ids: tuple[str, ...] = ()
    sessions: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
