"""Rules: which of the spec's ``monitor.rules`` an observation of a detector fires.

A detector reports an *observation*: one signal's metrics over one closed window of live
traffic, about one subject (``inputs``, a KPI's name, a key id…). A rule fires on it when

- the rule watches that signal,
- the rule's window (its own ``window``, else ``monitor.detection.window``) is the window the
  observation was measured over — compared by :func:`window_key`,
- for ``kpi_out_of_band``, the rule names no ``kpi`` or names the observation's subject, and
- the rule's condition (``when: share_drifted > 0.2``) holds on the observation's metric.

A metric the observation does not report, or reports as NaN (nothing to measure: no labels
yet, an empty window), never fires a rule — not even ``!=``.

Example::

    engine = RuleEngine(spec.monitor)
    for rule in engine.match(observation):
        ...  # open the incident, run rule.actions
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from assay.spec.monitor import Condition, Monitor, Rule, Window, window_key


class Observed(Protocol):
    """What the rules, incidents and actions read of a detector's observation
    (``assay.monitor.detectors.Observation`` has these fields)."""

    @property
    def signal(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def window(self) -> str: ...
    @property
    def metrics(self) -> Mapping[str, float]: ...
    @property
    def start(self) -> float: ...
    @property
    def end(self) -> float: ...
    @property
    def n(self) -> int: ...
    @property
    def event_ids(self) -> tuple[str, ...]: ...
    @property
    def sessions(self) -> tuple[str, ...]: ...
    @property
    def keys(self) -> tuple[str, ...]: ...
    @property
    def details(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class Check:
    """One rule against one observation: whether it fired and why (for logs and drills)."""

    rule: str
    fired: bool
    reason: str
    observed: float | None = None


class RuleEngine:
    """The spec's rules, indexed by signal, ready to test observations."""

    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor
        self._by_signal: dict[str, list[tuple[Rule, str, Condition]]] = {}
        for rule in monitor.rules:
            entry = (rule, window_key(monitor.window_of(rule)), rule.condition)
            self._by_signal.setdefault(rule.signal, []).append(entry)

    def watched(self) -> set[tuple[str, str]]:
        """Every ``(signal, window key)`` some rule watches: what the detectors must measure."""
        return {
            (rule.signal, key) for entries in self._by_signal.values() for rule, key, _ in entries
        }

    def windows(self) -> dict[str, Window]:
        """Window key → window, for every window some rule watches."""
        found: dict[str, Window] = {}
        for rule in self.monitor.rules:
            window = self.monitor.window_of(rule)
            found.setdefault(window_key(window), window)
        return found

    def match(self, obs: Observed) -> list[Rule]:
        """The rules ``obs`` fires, in the spec's order."""
        return [
            rule
            for rule, key, condition in self._by_signal.get(obs.signal, [])
            if _check(rule, key, condition, obs).fired
        ]

    def explain(self, obs: Observed) -> list[Check]:
        """Every rule of ``obs``'s signal with whether it fired and why not."""
        return [
            _check(rule, key, condition, obs)
            for rule, key, condition in self._by_signal.get(obs.signal, [])
        ]


def _check(rule: Rule, key: str, condition: Condition, obs: Observed) -> Check:
    if obs.window != key:
        return Check(rule.name, False, f"watches window {key}, not {obs.window}")
    if rule.signal == "kpi_out_of_band" and rule.kpi is not None and rule.kpi != obs.subject:
        return Check(rule.name, False, f"watches KPI {rule.kpi!r}, not {obs.subject!r}")
    value = obs.metrics.get(condition.metric)
    if value is None:
        return Check(rule.name, False, f"the observation has no {condition.metric}")
    observed = float(value)
    if math.isnan(observed):
        return Check(rule.name, False, f"{condition.metric} is NaN (nothing measured)", observed)
    if not condition.holds(observed):
        return Check(
            rule.name, False, f"{condition.metric} = {observed:g}; not {condition}", observed
        )
    return Check(rule.name, True, f"{condition.metric} = {observed:g}; {condition}", observed)
