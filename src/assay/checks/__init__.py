"""The audit checks, one module per domain.

The registry types live in ``_registry``; the built-in checks register when their modules are
imported, which :func:`load_builtin` does (the runner calls it). Keeping this package's
``__init__`` free of the domain modules lets the core types be imported without a cycle.
"""

from importlib import import_module

from assay.checks._registry import (
    REGISTRY,
    CheckInfo,
    CheckParams,
    Finding,
    Severity,
    Status,
    Threshold,
    check,
)

BUILTIN = (
    "assay.checks.integrity",
    "assay.checks.drift",
    "assay.checks.drift_dataset",
    "assay.checks.model",
    "assay.checks.fairness",
    "assay.checks.robustness",
    "assay.checks.security_pii",
    "assay.checks.security_privacy",
    "assay.checks.security_probes",
    "assay.checks.security_threat_model",
    "assay.checks.security_access",
    "assay.checks.performance",
    "assay.checks.performance_capacity",
    "assay.checks.monitoring",
    "assay.checks.governance",
    "assay.checks.governance_documents",
    "assay.checks.governance_compliance",
)
"""Modules of the built-in checks, in domain order."""


def load_builtin() -> dict[str, CheckInfo]:
    """Import the built-in check modules (registering their checks); returns the registry."""
    for module in BUILTIN:
        import_module(module)
    return REGISTRY


__all__ = [
    "BUILTIN",
    "REGISTRY",
    "CheckInfo",
    "CheckParams",
    "Finding",
    "Severity",
    "Status",
    "Threshold",
    "check",
    "load_builtin",
]
