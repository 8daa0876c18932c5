"""Assay: audit an AI system before launch, and watch it after launch.

Example::

    import assay
    run = assay.audit("assay.yaml", repo=".assay")
    print(run.verdict.status)
"""

from assay._version import __version__
from assay._vocabulary import Severity, Status
from assay.api import audit, profile
from assay.checks._registry import CheckParams, Finding, Threshold, check
from assay.errors import AssayError
from assay.profiles.table import TableProfile
from assay.run import Run
from assay.spec import Spec, load_spec

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
