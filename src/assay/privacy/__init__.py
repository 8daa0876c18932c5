"""Personal data and secrets in datasets and model outputs: detection and masking.

Three layers, each usable alone:

- :func:`scan_text` and :func:`mask_text` for one string (a model's answer, a probe
  response): ``mask_text(answer, "hash", key)`` before it is stored or shown;
- :func:`scan_array`, :func:`mask_array` and :class:`ColumnScan` for Arrow string columns,
  with a vectorised prefilter so only candidate rows reach the validators;
- :func:`scan_batches` for a stream of record batches (every row of every text column).

Entity kinds, validators and masking methods: docs/privacy.md.
"""

from assay.privacy.detectors import KINDS, Match, scan_text
from assay.privacy.mask import LABELS, METHODS, MaskMethod, as_key, mask_text, partial
from assay.privacy.scan import (
    PREFILTER,
    ColumnReport,
    ColumnScan,
    candidates,
    column_context,
    is_text,
    mask_array,
    scan_array,
    scan_batches,
)

__all__ = [
    "KINDS",
    "LABELS",
    "METHODS",
    "PREFILTER",
    "ColumnReport",
    "ColumnScan",
    "MaskMethod",
    "Match",
    "as_key",
    "candidates",
    "column_context",
    "is_text",
    "mask_array",
    "mask_text",
    "partial",
    "scan_array",
    "scan_batches",
    "scan_text",
]
