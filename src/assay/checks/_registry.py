"""The check framework: findings, statuses, severities, thresholds and the registry.

A check is a plain function ``(ctx, params) -> list[Finding]`` registered with :func:`check`
under a stable id ``domain.name``. The column, group or slice a finding is about is its
``subject``, never part of the id. Metric names are part of a check's contract: they are
documented in docs/checks.md and compared across runs, so rename one only with a new check id.

Naming contract for metrics: ``*_ratio`` and ``*_rate`` are shares in [0, 1]; ``*_count`` and
``n_*`` are counts; a threshold's ``direction`` says whether a metric must stay at or below its
levels (``max``) or at or above them (``min``).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from assay._vocabulary import DOMAIN_TITLES, DOMAINS, Severity, Status
from assay.errors import UnknownCheckError

if TYPE_CHECKING:
    from assay.checks._context import Context


@dataclass(frozen=True)
class Threshold:
    """Levels a metric is judged against.

    ``direction="max"``: the metric must stay at or below ``fail`` (and ``warn``).
    ``direction="min"``: the metric must stay at or above them. A level of ``None`` is not
    applied. An undefined metric (``None`` or NaN) grades as ``None``: the check decides.
    """

    metric: str
    fail: float | None = None
    warn: float | None = None
    direction: Literal["max", "min"] = "max"

    def breaches(self, value: float, level: float | None) -> bool:
        if level is None:
            return False
        return value > level if self.direction == "max" else value < level

    def grade(self, value: float | None) -> Status | None:
        """PASS, WARN or FAIL for ``value``; ``None`` when the value is undefined."""
        if value is None or math.isnan(value):
            return None
        if self.breaches(value, self.fail):
            return Status.FAIL
        if self.breaches(value, self.warn):
            return Status.WARN
        return Status.PASS

    def describe(self) -> str:
        """``missing_ratio ≤ 0.05 (warn), ≤ 0.2 (fail)``."""
        sign = "≤" if self.direction == "max" else "≥"
        parts = []
        if self.warn is not None:
            parts.append(f"{sign} {self.warn:g} (warn)")
        if self.fail is not None:
            parts.append(f"{sign} {self.fail:g} (fail)")
        return f"{self.metric} " + ", ".join(parts) if parts else f"{self.metric} (not graded)"

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "warn": self.warn,
            "fail": self.fail,
            "direction": self.direction,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Threshold:
        return cls(
            metric=data["metric"],
            warn=data.get("warn"),
            fail=data.get("fail"),
            direction=data.get("direction", "max"),
        )


Metric = float | int | None


@dataclass(frozen=True)
class Waiver:
    """Why a failing finding does not count: who accepted it, and until when."""

    reason: str
    approver: str
    expires: str  # ISO date

    def to_json(self) -> dict[str, str]:
        return {"reason": self.reason, "approver": self.approver, "expires": self.expires}


@dataclass(frozen=True)
class Finding:
    """One judgement of one check about one subject.

    ``metrics`` maps a stable metric name to a number, or to ``None`` when the metric is
    undefined; ``undefined`` then says why (metric name → reason). ``evidence`` holds
    ``sha256:…`` references to artefacts stored with the run.
    """

    check_id: str
    domain: str
    subject: str
    status: Status
    severity: Severity
    owner: str
    message: str
    remediation: str = ""
    metrics: Mapping[str, Metric] = field(default_factory=dict)
    undefined: Mapping[str, str] = field(default_factory=dict)
    threshold: Threshold | None = None
    evidence: tuple[str, ...] = ()
    waiver: Waiver | None = None

    def __post_init__(self) -> None:
        # Stored runs are canonical JSON (sorted keys); sorting here makes a finding in memory
        # and the same finding read back from the repository identical, reports included.
        object.__setattr__(self, "metrics", dict(sorted(self.metrics.items())))
        object.__setattr__(self, "undefined", dict(sorted(self.undefined.items())))

    @property
    def key(self) -> tuple[str, str]:
        """What identifies a finding across runs: check id and subject."""
        return (self.check_id, self.subject)

    def to_json(self) -> dict[str, Any]:
        return {
            "check_id": self.check_id,
            "domain": self.domain,
            "subject": self.subject,
            "status": self.status.value,
            "severity": self.severity.value,
            "owner": self.owner,
            "message": self.message,
            "remediation": self.remediation,
            "metrics": {k: _json_number(v) for k, v in self.metrics.items()},
            "undefined": dict(self.undefined),
            "threshold": self.threshold.to_json() if self.threshold else None,
            "evidence": list(self.evidence),
            "waiver": self.waiver.to_json() if self.waiver else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Finding:
        waiver = data.get("waiver")
        threshold = data.get("threshold")
        return cls(
            check_id=data["check_id"],
            domain=data["domain"],
            subject=data["subject"],
            status=Status(data["status"]),
            severity=Severity(data["severity"]),
            owner=data["owner"],
            message=data["message"],
            remediation=data.get("remediation", ""),
            metrics=dict(data.get("metrics", {})),
            undefined=dict(data.get("undefined", {})),
            threshold=Threshold.from_json(threshold) if threshold else None,
            evidence=tuple(data.get("evidence", ())),
            waiver=Waiver(**waiver) if waiver else None,
        )


def _json_number(value: Metric) -> Metric:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


CheckFunction = Callable[["Context", "CheckParams"], list[Finding]]


@dataclass(frozen=True)
class CheckInfo:
    """A registered check: its function and what it declares about itself."""

    id: str
    domain: str
    title: str
    function: CheckFunction
    severity: Severity
    thresholds: Mapping[str, Threshold]
    requires: frozenset[str]
    remediation: str
    options: type[BaseModel] | None
    min_rows: int
    after_checks: bool = False
    sample_rows: int = 0
    imports: tuple[str, ...] = ()
    prepare: Callable[[Context, CheckParams], Any] | None = None


@dataclass(frozen=True)
class CheckParams:
    """What a check runs with: its effective thresholds, options, owner and seed."""

    info: CheckInfo
    thresholds: Mapping[str, Threshold]
    options: BaseModel | None
    severity: Severity
    owner: str
    seed: int
    min_rows: int = 1

    def finding(
        self,
        subject: str,
        *,
        status: Status,
        message: str,
        metrics: Mapping[str, Metric] | None = None,
        undefined: Mapping[str, str] | None = None,
        threshold: Threshold | None = None,
        evidence: tuple[str, ...] = (),
        remediation: str | None = None,
        severity: Severity | None = None,
    ) -> Finding:
        """A finding of this check, with its owner, severity and remediation filled in."""
        return Finding(
            check_id=self.info.id,
            domain=self.info.domain,
            subject=subject,
            status=status,
            severity=severity or self.severity,
            owner=self.owner,
            message=message,
            remediation=self.info.remediation if remediation is None else remediation,
            metrics=dict(metrics or {}),
            undefined=dict(undefined or {}),
            threshold=threshold,
            evidence=evidence,
        )

    def judge(
        self,
        subject: str,
        metric: str,
        metrics: Mapping[str, Metric],
        *,
        message: str,
        undefined: Mapping[str, str] | None = None,
        evidence: tuple[str, ...] = (),
        remediation: str | None = None,
        severity: Severity | None = None,
    ) -> Finding:
        """A finding graded by the threshold of ``metric``.

        An undefined metric gives a ``skipped`` finding that says why, never a pass.
        """
        threshold = self.thresholds[metric]
        value = metrics.get(metric)
        status = threshold.grade(None if value is None else float(value))
        if status is None:
            reason = (undefined or {}).get(metric, "the metric is undefined")
            status, message = Status.SKIPPED, f"{metric} is undefined: {reason}."
        return self.finding(
            subject,
            status=status,
            message=message,
            metrics=metrics,
            undefined=undefined,
            threshold=threshold,
            evidence=evidence,
            remediation=remediation,
            severity=severity,
        )

    def insufficient(
        self, subject: str, n: int, need: int | None = None, *, evidence: tuple[str, ...] = ()
    ) -> Finding:
        """The ``skipped`` finding for a sample below the minimum size (default ``min_rows``)."""
        need = self.min_rows if need is None else need
        return self.finding(
            subject,
            status=Status.SKIPPED,
            message=f"insufficient data: n={n}, need {need}.",
            metrics={"n_rows": n},
            evidence=evidence,
            remediation=f"Provide at least {need} rows, or lower `checks.{self.info.id}.min_rows`.",
        )

    def rng_seed(self, *labels: str) -> int:
        """A seed for one random step of this check, derived from the spec's seed."""
        return derive_seed(self.seed, *labels)


def derive_seed(seed: int, *labels: str) -> int:
    """A 32-bit seed derived from ``seed`` and ``labels``: stable across runs and platforms."""
    digest = hashlib.sha256(":".join([str(seed), *labels]).encode()).digest()
    return int.from_bytes(digest[:4], "big")


REGISTRY: dict[str, CheckInfo] = {}
"""Every registered check by id. Filled by the ``@check`` decorator at import time."""

CAPABILITIES = {
    "datasets": "at least one dataset under `datasets:`",
    "target": "a dataset with a `target:` column",
    "train": "a dataset named `train`",
    "train_test": "datasets named `train` and `test`",
    "schema": "a `schema:` on a dataset",
    "ids": "an `id:` column or a schema column with `unique: true`",
    "checksums": "a `sha256:` on a dataset",
    "lineage": "`lineage:` steps",
    "model": "a `model:` reference",
    "documents": "a `documents:` folder",
    "sensitive": "`sensitive:` columns on a dataset",
    "predictions": "a `prediction:` or `score:` column on a dataset",
    "scored": "a `model:`, or a `prediction:` or `score:` column on a dataset",
    "ood": "a dataset with `role: ood` (out-of-distribution or shifted data with a target)",
    "serving": "a `serving:` endpoint (the deployed prediction endpoint)",
    "compliance": "a `compliance:` section",
    "performance": "a `performance:` section (a load test of the serving endpoint)",
    "reference_current": "a `reference` (or `train`) dataset and a `current` dataset",
    "baseline": "a baseline run (`assay audit --baseline approved|RUN`)",
    "generative": "a `generative:` endpoint (an OpenAI-compatible chat API)",
    "monitor": "a `monitor:` section (live rules, actions and escalation)",
}
"""What a check may require, and the spec entry that provides it."""


def check(
    check_id: str,
    *,
    domain: str,
    title: str,
    severity: Severity = Severity.MAJOR,
    thresholds: tuple[Threshold, ...] = (),
    requires: tuple[str, ...] = ("datasets",),
    remediation: str = "",
    options: type[BaseModel] | None = None,
    min_rows: int = 1,
    after_checks: bool = False,
    sample_rows: int = 0,
    imports: tuple[str, ...] = (),
    prepare: Callable[[Context, CheckParams], Any] | None = None,
) -> Callable[[CheckFunction], CheckFunction]:
    """Register a check function under ``check_id`` (``domain.name``).

    ``sample_rows=N`` asks the profile pass for a seeded sample of N rows per dataset
    (``ctx.sample(name)``). ``imports`` names slow-to-import modules the check needs: idle
    worker processes import them after the profile pass. ``prepare(ctx, params)``, when given,
    runs right after the pass so the check can start background work (``ctx.submit``) that
    it collects when it runs. ``after_checks=True`` runs the
    check after all others, with their findings in ``ctx.findings`` (the baseline
    comparison works this way).

    Example::

        @check("integrity.missing_values", domain="integrity", title="Missing values",
               thresholds=(Threshold("missing_ratio", warn=0.05, fail=0.3),))
        def missing_values(ctx, params):
            ...
    """
    prefix, _, name = check_id.partition(".")
    if prefix != domain or not name or domain not in DOMAINS:
        raise ValueError(
            f"check id {check_id!r} must be '<domain>.<name>' with a domain of {DOMAINS}"
        )
    unknown = set(requires) - set(CAPABILITIES)
    if unknown:
        raise ValueError(f"check {check_id!r} requires unknown capabilities {sorted(unknown)}")

    def register(function: CheckFunction) -> CheckFunction:
        if check_id in REGISTRY and REGISTRY[check_id].function is not function:
            raise ValueError(f"check id {check_id!r} is already registered")
        REGISTRY[check_id] = CheckInfo(
            id=check_id,
            domain=domain,
            title=title,
            function=function,
            severity=severity,
            thresholds={t.metric: t for t in thresholds},
            requires=frozenset(requires),
            remediation=remediation,
            options=options,
            min_rows=min_rows,
            after_checks=after_checks,
            sample_rows=sample_rows,
            imports=imports,
            prepare=prepare,
        )
        return function

    return register


def get_check(check_id: str) -> CheckInfo:
    """The registered check ``check_id``; an unknown id lists the close matches."""
    try:
        return REGISTRY[check_id]
    except KeyError:
        raise UnknownCheckError(check_id, REGISTRY) from None


__all__ = [
    "CAPABILITIES",
    "DOMAINS",
    "DOMAIN_TITLES",
    "REGISTRY",
    "CheckInfo",
    "CheckParams",
    "Finding",
    "Severity",
    "Status",
    "Threshold",
    "Waiver",
    "check",
    "derive_seed",
    "get_check",
]
