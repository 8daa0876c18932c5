"""Mergeable column profiles, computed in one streaming pass over Arrow record batches.

Example::

    import assay
    profile = assay.profile("data/train.parquet")
    print(profile["age"].mean, profile["age"].quantiles([0.5]))

Names load on first use, so a worker process (``python -m assay.profiles._worker``) and
``assay.profiles.pool.prestart`` do not import the whole pass up front.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assay.profiles.column import ColumnProfile
    from assay.profiles.engine import ScanOptions, scan
    from assay.profiles.table import PROFILE_SCHEMA, SUFFIX, TableProfile

_WHERE = {
    "ColumnProfile": "assay.profiles.column",
    "PROFILE_SCHEMA": "assay.profiles.table",
    "SUFFIX": "assay.profiles.table",
    "ScanOptions": "assay.profiles.engine",
    "TableProfile": "assay.profiles.table",
    "scan": "assay.profiles.engine",
}

__all__ = ["PROFILE_SCHEMA", "SUFFIX", "ColumnProfile", "ScanOptions", "TableProfile", "scan"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'assay.profiles' has no attribute {name!r}")
