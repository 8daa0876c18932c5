"""What to audit: the ``assay.yaml`` models, loading with line numbers, and ``assay init``."""

from assay.spec.loader import load_spec, parse_spec, spec_from_mapping
from assay.spec.models import (
    ColumnSchema,
    DatasetSchema,
    DatasetSpec,
    InferredSchema,
    Spec,
    WaiverSpec,
)

__all__ = [
    "ColumnSchema",
    "DatasetSchema",
    "DatasetSpec",
    "InferredSchema",
    "Spec",
    "WaiverSpec",
    "load_spec",
    "parse_spec",
    "spec_from_mapping",
]
