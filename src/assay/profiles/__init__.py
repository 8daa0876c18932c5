"""Mergeable column profiles, computed in one streaming pass over Arrow record batches.

Example::

    import assay
    profile = assay.profile("data/train.parquet")
    print(profile["age"].mean, profile["age"].quantiles([0.5]))
"""

from assay.profiles.column import ColumnProfile
from assay.profiles.engine import ScanOptions, scan
from assay.profiles.table import PROFILE_SCHEMA, SUFFIX, TableProfile

__all__ = ["PROFILE_SCHEMA", "SUFFIX", "ColumnProfile", "ScanOptions", "TableProfile", "scan"]
