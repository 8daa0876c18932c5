"""Compliance: the control catalogue and the matrix of controls, checks, statuses and evidence.

The built-in catalogue (``catalogue.yaml``, documented in docs/compliance.md) maps Assay's
checks to EU AI Act articles 9–15 and Annex IV, NIST AI RMF 1.0 MEASURE and MANAGE
subcategories, and — indicatively, by identifier and title only — ISO/IEC 42001 Annex A
controls. A spec's ``compliance.catalogue`` file adds, changes or removes controls.
"""

from assay.compliance._catalogue import (
    BUILTIN_NAME,
    ENTRY_ERROR,
    Catalogue,
    Control,
    Framework,
    apply_override,
    builtin_catalogue,
    parse_builtin,
    spec_catalogue,
    validate_catalogue,
)
from assay.compliance._matrix import (
    CONTROL_STATUSES,
    MATRIX_ARTEFACT,
    MATRIX_SCHEMA,
    NOT_EVIDENCED,
    NOT_RUN,
    FrameworkMatrix,
    build_matrix,
    matrix_json,
)

__all__ = [
    "BUILTIN_NAME",
    "CONTROL_STATUSES",
    "ENTRY_ERROR",
    "MATRIX_ARTEFACT",
    "MATRIX_SCHEMA",
    "NOT_EVIDENCED",
    "NOT_RUN",
    "Catalogue",
    "Control",
    "Framework",
    "FrameworkMatrix",
    "apply_override",
    "build_matrix",
    "builtin_catalogue",
    "matrix_json",
    "parse_builtin",
    "spec_catalogue",
    "validate_catalogue",
]
