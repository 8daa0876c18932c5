"""Compare runs: what changed between two audits, and what regressed against a baseline.

Findings are matched across runs by :attr:`Finding.key` — ``(check_id, subject)``. Metric
values that are undefined (``None``, NaN, ±inf) compare equal to each other, since stored
runs keep all of them as ``null``.

Example::

    changes = diff_runs(repo.resolve("approved").run, repo.resolve("latest").run)
    for change in changes.changed:
        print(change.key, change.status, [(m.name, m.old, m.new) for m in change.metrics])
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from assay.checks._registry import Finding, Metric, Status
from assay.run import Run


def _defined(value: Metric) -> Metric:
    """``value``, or ``None`` when it is undefined (NaN or infinite)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _show(value: Metric) -> str:
    return "undefined" if _defined(value) is None else f"{value:.6g}"


@dataclass(frozen=True)
class MetricChange:
    """One metric whose value differs; ``None`` means undefined or absent."""

    name: str
    old: Metric
    new: Metric

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "old": _defined(self.old), "new": _defined(self.new)}


@dataclass(frozen=True)
class FindingChange:
    """A finding present in both runs whose status or metrics differ."""

    old: Finding
    new: Finding
    metrics: tuple[MetricChange, ...]

    @property
    def key(self) -> tuple[str, str]:
        return self.new.key

    @property
    def status(self) -> tuple[Status, Status] | None:
        """``(old, new)`` status if it changed, else ``None``."""
        return None if self.old.status == self.new.status else (self.old.status, self.new.status)

    def describe(self) -> str:
        """``integrity.schema [train] fail → pass; missing_columns 2 → 0``."""
        parts = []
        if self.status is not None:
            parts.append(f"{self.status[0].value} → {self.status[1].value}")
        parts += [f"{m.name} {_show(m.old)} → {_show(m.new)}" for m in self.metrics]
        return f"{self.new.check_id} [{self.new.subject}] " + "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        status = self.status
        return {
            "check_id": self.new.check_id,
            "subject": self.new.subject,
            "status": None if status is None else {"old": status[0].value, "new": status[1].value},
            "metrics": [m.to_json() for m in self.metrics],
        }


@dataclass(frozen=True)
class RunDiff:
    """What changed from run ``a`` to run ``b``: ``changed``, ``new`` (in b only), ``gone``
    (in a only), each sorted by finding key."""

    a: str
    b: str
    changed: tuple[FindingChange, ...]
    new: tuple[Finding, ...]
    gone: tuple[Finding, ...]

    @property
    def is_empty(self) -> bool:
        """True when both runs have the same findings with the same statuses and metrics."""
        return not (self.changed or self.new or self.gone)

    def to_json(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "changed": [c.to_json() for c in self.changed],
            "new": [f.to_json() for f in self.new],
            "gone": [f.to_json() for f in self.gone],
        }


def metric_changes(old: Finding, new: Finding) -> tuple[MetricChange, ...]:
    """The metrics whose values differ between two findings, by name."""
    names = sorted(set(old.metrics) | set(new.metrics))
    return tuple(
        MetricChange(name, old.metrics.get(name), new.metrics.get(name))
        for name in names
        if _defined(old.metrics.get(name)) != _defined(new.metrics.get(name))
    )


def _pairs(
    a: Iterable[Finding], b: Iterable[Finding]
) -> tuple[list[tuple[Finding, Finding]], list[Finding], list[Finding]]:
    """Match findings by key: ``(pairs, only in b, only in a)``.

    A key that occurs more than once in a run (which a runner should not produce) is paired
    in order of occurrence rather than lost.
    """
    by_key: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for finding in a:
        by_key[finding.key].append(finding)
    pairs, only_b = [], []
    for finding in b:
        waiting = by_key.get(finding.key)
        if waiting:
            pairs.append((waiting.pop(0), finding))
        else:
            only_b.append(finding)
    only_a = [f for waiting in by_key.values() for f in waiting]
    return pairs, only_b, only_a


def diff_runs(a: Run, b: Run) -> RunDiff:
    """The difference from run ``a`` to run ``b``, matching findings by ``(check_id, subject)``."""
    pairs, new, gone = _pairs(a.findings, b.findings)
    changed = []
    for old, current in pairs:
        metrics = metric_changes(old, current)
        if metrics or old.status != current.status:
            changed.append(FindingChange(old, current, metrics))
    return RunDiff(
        a=a.id,
        b=b.id,
        changed=tuple(sorted(changed, key=lambda c: c.key)),
        new=tuple(sorted(new, key=lambda f: f.key)),
        gone=tuple(sorted(gone, key=lambda f: f.key)),
    )


_STATUS_RANK = {Status.PASS: 0, Status.WARN: 1, Status.FAIL: 2}


class Regression(NamedTuple):
    """A finding that got worse than in the baseline run.

    ``metric`` is a metric name with its old and new values, or ``"status"`` with the old
    and new status values.
    """

    old: Finding
    new: Finding
    metric: str
    old_value: Metric | str
    new_value: Metric | str


def regressions(baseline: Run, current: Sequence[Finding], *, tolerance: float) -> list[Regression]:
    """Findings of ``current`` that are worse than the same finding in ``baseline``.

    A status regresses from ``pass`` to ``warn`` or ``fail``, or from ``warn`` to ``fail``
    (other statuses are not ranked). A metric regresses when the finding has a
    :class:`Threshold` for it and the new value is worse by more than ``tolerance`` in the
    threshold's direction: for ``max``, ``new > old + tolerance``; for ``min``,
    ``new < old - tolerance``. Undefined values never regress. Results follow ``current``'s
    order, a status regression before a metric one.

    Example: baseline ``missing_ratio=0.01`` (max), current ``0.05``, tolerance ``0.02``
    gives ``Regression(old, new, "missing_ratio", 0.01, 0.05)``.
    """
    if not math.isfinite(tolerance) or tolerance < 0:
        raise ValueError(f"tolerance must be a finite number >= 0. Got {tolerance!r}.")
    found: list[Regression] = []
    pairs, _, _ = _pairs(baseline.findings, current)
    for old, new in pairs:
        before, after = _STATUS_RANK.get(old.status), _STATUS_RANK.get(new.status)
        if before is not None and after is not None and after > before:
            found.append(Regression(old, new, "status", old.status.value, new.status.value))
        threshold = new.threshold or old.threshold
        if threshold is None:
            continue
        was = _defined(old.metrics.get(threshold.metric))
        now = _defined(new.metrics.get(threshold.metric))
        if was is None or now is None:
            continue
        worse = now > was + tolerance if threshold.direction == "max" else now < was - tolerance
        if worse:
            found.append(Regression(old, new, threshold.metric, was, now))
    return found
