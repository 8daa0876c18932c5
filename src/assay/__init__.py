"""Assay: audit an AI system before launch, and watch it after launch.

Example::

    import assay
    run = assay.audit("assay.yaml", repo=".assay")
    print(run.verdict.status)

The names below load on first use (PEP 562), so ``import assay`` — and every worker process
of the profile pass, which imports one submodule — starts without importing the whole tool.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from assay._version import __version__

if TYPE_CHECKING:
    from assay._vocabulary import Severity, Status
    from assay.api import audit, profile
    from assay.checks._registry import CheckParams, Finding, Threshold, check
    from assay.errors import AssayError
    from assay.profiles.table import TableProfile
    from assay.run import Run
    from assay.spec import Spec, load_spec

_WHERE = {
    "AssayError": "assay.errors",
    "CheckParams": "assay.checks._registry",
    "Finding": "assay.checks._registry",
    "Run": "assay.run",
    "Severity": "assay._vocabulary",
    "Spec": "assay.spec",
    "Status": "assay._vocabulary",
    "TableProfile": "assay.profiles.table",
    "Threshold": "assay.checks._registry",
    "audit": "assay.api",
    "check": "assay.checks._registry",
    "load_spec": "assay.spec",
    "profile": "assay.api",
}

__all__ = [
    "AssayError",
    "CheckParams",
    "Finding",
    "Run",
    "Severity",
    "Spec",
    "Status",
    "TableProfile",
    "Threshold",
    "__version__",
    "audit",
    "check",
    "load_spec",
    "profile",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'assay' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
