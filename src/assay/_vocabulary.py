"""The words every part of Assay shares: audit domains, finding statuses and severities.

They live outside the checks package so the spec, the evidence store and the reports can use
them without importing (and so registering) the checks. ``assay.checks`` re-exports them.
"""

from __future__ import annotations

from enum import StrEnum

DOMAINS = (
    "integrity",
    "drift",
    "model",
    "fairness",
    "robustness",
    "security",
    "performance",
    "monitoring",
    "governance",
)
"""Audit domains, in report order. A check id starts with its domain."""

DOMAIN_TITLES = {
    "integrity": "Data integrity",
    "drift": "Drift",
    "model": "Model validation",
    "fairness": "Fairness",
    "robustness": "Robustness",
    "security": "Security & privacy",
    "performance": "Performance",
    "monitoring": "Monitoring readiness",
    "governance": "Governance & compliance",
}


class Status(StrEnum):
    """What a finding says about its subject."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"
    SKIPPED = "skipped"
    WAIVED = "waived"


class Severity(StrEnum):
    """How much a failed finding matters; the verdict fails at or above ``--fail-on``."""

    BLOCKER = "blocker"
    MAJOR = "major"
    MINOR = "minor"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is more severe: info 0 … blocker 3."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.INFO: 0, Severity.MINOR: 1, Severity.MAJOR: 2, Severity.BLOCKER: 3}

__all__ = ["DOMAINS", "DOMAIN_TITLES", "Severity", "Status"]
