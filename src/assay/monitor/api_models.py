"""The request and response bodies of the monitor's HTTP API (pydantic; in the OpenAPI page).

Bodies are validated from the raw bytes with pydantic's JSON parser (``validate_json``), which
is several times faster than parsing to Python objects first; every problem comes back as a
4xx naming the field, the value and the fix (:func:`problems`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

FeatureValue = float | int | bool | str | None


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Event(_Body):
    """One prediction the monitored system made."""

    id: str = Field(min_length=1, max_length=200)
    timestamp: float | datetime = Field(
        description="When the prediction was made: seconds since the Unix epoch, or ISO 8601."
    )
    model_version: str = Field(min_length=1, max_length=100)
    session_id: str | None = Field(default=None, max_length=200)
    api_key_id: str | None = Field(
        default=None, max_length=200, description="The id of the key the caller used."
    )
    features: dict[str, FeatureValue]
    prediction: float | None = None
    score: float | None = Field(default=None, description="The model's confidence or score.")
    latency_ms: float | None = Field(default=None, ge=0)
    output_text: str | None = Field(default=None, max_length=100_000)


class EventBatch(_Body):
    events: list[Event] = Field(min_length=1)


class Label(_Body):
    """Delayed ground truth for an event."""

    event_id: str = Field(min_length=1, max_length=200)
    label: float
    timestamp: float | datetime | None = None


class LabelBatch(_Body):
    labels: list[Label] = Field(min_length=1)


class Kpi(_Body):
    """A business KPI value: conversion rate, approval rate, revenue per session…"""

    name: str = Field(min_length=1, max_length=200)
    value: float
    timestamp: float | datetime | None = None


class KpiBatch(_Body):
    kpis: list[Kpi] = Field(min_length=1)


class HumanStep(_Body):
    """An acknowledgement or resolution; ``by`` defaults to the key's name."""

    by: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=10_000)


class Accepted(BaseModel):
    accepted: int
    duplicates: int = 0
    held_for_review: int = 0


class Route(BaseModel):
    target: Literal["primary", "fallback"]
    since: float | None = None
    incident: int | None = None
    degraded_mode: bool = False


class Problem(BaseModel):
    field: str
    value: Any = None
    message: str


class ErrorBody(BaseModel):
    error: str
    problems: list[Problem] = Field(default_factory=list)


EVENTS = TypeAdapter(EventBatch)
LABELS = TypeAdapter(LabelBatch)
KPIS = TypeAdapter(KpiBatch)
HUMAN_STEP = TypeAdapter(HumanStep)


def epoch(value: float | datetime | None, default: float) -> float:
    """Seconds since the epoch from a number, an ISO datetime (naive = UTC) or ``None``."""
    if value is None:
        return default
    if isinstance(value, datetime):
        if value.tzinfo is None:
            from datetime import UTC

            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    return float(value)


def problems(exc: ValidationError, *, limit: int = 20) -> list[Problem]:
    """Pydantic's errors as ``field`` (``events[3].latency_ms``), ``value`` and ``message``."""
    found: list[Problem] = []
    for error in exc.errors(include_url=False)[:limit]:
        field = ""
        for part in error["loc"]:
            field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
        value = error.get("input")
        if isinstance(value, (dict, list)):
            value = f"a {'mapping' if isinstance(value, dict) else 'list'} of {len(value)} items"
        elif isinstance(value, bytes | bytearray):
            value = value[:80].decode("utf-8", "replace")
        elif not isinstance(value, str | int | float | bool | None):
            value = repr(value)
        if isinstance(value, str) and len(value) > 80:
            value = value[:77] + "..."
        found.append(Problem(field=field or "body", value=value, message=error["msg"]))
    return found
