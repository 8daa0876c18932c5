"""Inputs: datasets as Arrow record batches, and the audited model (:mod:`assay.sources.models`).

Names load on first use, so a worker process that only unpickles a reader
(:mod:`assay.sources.readers`) does not import the spec's models.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assay.sources.datasets import (
        Dataset,
        as_arrow_table,
        file_sha256,
        open_dataset,
        schema_fingerprint,
    )

__all__ = ["Dataset", "as_arrow_table", "file_sha256", "open_dataset", "schema_fingerprint"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(import_module("assay.sources.datasets"), name)
    raise AttributeError(f"module 'assay.sources' has no attribute {name!r}")
