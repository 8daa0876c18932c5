"""Drills, the scenario table: one :class:`Scenario` per monitored signal (:data:`SCENARIOS`,
in the order of :data:`~assay.spec.monitor.DRILL_SCENARIOS`), the traffic it sends, and the
function that drives that traffic through a :class:`~assay.monitor.drill_driver._Drill`.

:mod:`assay.monitor.drills` describes a drill as a whole.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assay.monitor.drill_client import SHIFT_STDS
from assay.spec.monitor import DRILL_SCENARIOS

if TYPE_CHECKING:
    from assay.monitor.drill_driver import _Drill


@dataclass(frozen=True)
class Scenario:
    """One drill: what traffic it sends, and which signal that must trip."""

    name: str
    traffic: str
    drive: Callable[[_Drill], None]


def _drive_input_shift(d: _Drill) -> None:
    n = d.units("events")
    d.post_events(lambda k, now: d.gen.events(k, now=now, mode="shift"), n)
    d.close_time_windows("events")


def _drive_accuracy_drop(d: _Drill) -> None:
    n = d.units("labels")
    sent: list[dict[str, Any]] = []

    def make(k: int, now: float) -> list[dict[str, Any]]:
        batch = d.gen.events(k, now=now)
        sent.extend(batch)
        return batch

    d.post_events(make, n)
    d.post_labels([(e["id"], d.gen.wrong_label(e)) for e in sent])
    d.close_time_windows("labels")


def _drive_latency_spike(d: _Drill) -> None:
    n = d.units("events")
    spike = d.spike_latency_ms()
    d.post_events(lambda k, now: d.gen.events(k, now=now, latency_ms=spike), n)
    d.close_time_windows("events")


def _drive_suspicious_output(d: _Drill) -> None:
    n = d.units("events")
    d.post_events(lambda k, now: d.gen.events(k, now=now, suspicious=True), n)
    d.close_time_windows("events")


def _drive_security_anomaly(d: _Drill) -> None:
    d.auth_burst()
    d.key_burst()


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "input_shift",
            f"numeric features shifted {SHIFT_STDS:g} reference std (kept in range), the "
            "rarest category of each categorical feature taking all the traffic",
            _drive_input_shift,
        ),
        Scenario(
            "accuracy_drop",
            "normal events, then a label for each that its prediction gets wrong",
            _drive_accuracy_drop,
        ),
        Scenario(
            "latency_spike",
            "latencies far above the objective (or 10x the drill's normal p99, or twice a "
            "rule's threshold, whichever is highest)",
            _drive_latency_spike,
        ),
        Scenario(
            "suspicious_output",
            "output texts with a synthetic e-mail address and card number, NaN or "
            "out-of-range predictions, out-of-distribution inputs in every other event",
            _drive_suspicious_output,
        ),
        Scenario(
            "security_anomaly",
            "a burst of requests with unknown, malformed or missing keys, then one key id "
            "sending far above its baseline share of the traffic",
            _drive_security_anomaly,
        ),
    )
}
assert tuple(SCENARIOS) == DRILL_SCENARIOS
