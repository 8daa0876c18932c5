"""Inputs: datasets as Arrow record batches (models, documents and endpoints follow)."""

from assay.sources.datasets import (
    Dataset,
    as_arrow_table,
    file_sha256,
    open_dataset,
    schema_fingerprint,
)

__all__ = ["Dataset", "as_arrow_table", "file_sha256", "open_dataset", "schema_fingerprint"]
