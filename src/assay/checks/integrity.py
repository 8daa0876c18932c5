"""The data-integrity domain: is the data what the spec says it is, and where it says it came from?

Importing this module registers every ``integrity.*`` check. They live in five modules by
what they read:

- :mod:`assay.checks.integrity_schema` — ``integrity.schema``;
- :mod:`assay.checks.integrity_columns` — column statistics: ``integrity.value_range``,
  ``integrity.allowed_values``, ``integrity.missing_values``, ``integrity.constant_columns``;
- :mod:`assay.checks.integrity_rows` — whole rows: ``integrity.duplicate_rows``,
  ``integrity.duplicate_ids``, ``integrity.train_test_overlap``;
- :mod:`assay.checks.integrity_labels` — the target: ``integrity.class_balance``,
  ``integrity.label_conflicts``;
- :mod:`assay.checks.integrity_files` — file bytes: ``integrity.manifest``,
  ``integrity.checksums``, ``integrity.lineage``.

Subjects: ``train`` (a dataset), ``train:age`` (a column), ``test vs train`` (a pair),
``lineage:<step>`` and ``lineage`` (a lineage step, the end of the chain). Every finding about
a dataset cites its manifest; evidence shows row numbers, ids and category values, never other
row values. docs/checks.md documents each check's metrics, thresholds and options.
"""

from __future__ import annotations

from assay.checks.integrity_columns import (
    allowed_values,
    constant_columns,
    missing_values,
    value_range,
)
from assay.checks.integrity_files import checksums, lineage, manifest
from assay.checks.integrity_labels import class_balance, label_conflicts
from assay.checks.integrity_rows import duplicate_ids, duplicate_rows, train_test_overlap
from assay.checks.integrity_schema import schema

__all__ = [
    "allowed_values",
    "checksums",
    "class_balance",
    "constant_columns",
    "duplicate_ids",
    "duplicate_rows",
    "label_conflicts",
    "lineage",
    "manifest",
    "missing_values",
    "schema",
    "train_test_overlap",
    "value_range",
]
