"""Shared fixtures: small real files on disk and a spec that audits them."""

from __future__ import annotations

from pathlib import Path

import pytest

from _support import write_project


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with train.parquet, test.csv and an assay.yaml that audits them."""
    write_project(tmp_path)
    return tmp_path
