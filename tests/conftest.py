"""Shared fixtures: small real files on disk and a spec that audits them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from _support import write_project


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Compiled report templates go to a folder of this test session, not the user's cache
    (subprocesses inherit it)."""
    before = os.environ.get("ASSAY_CACHE_DIR")
    os.environ["ASSAY_CACHE_DIR"] = str(tmp_path_factory.mktemp("assay-cache"))
    yield
    if before is None:
        os.environ.pop("ASSAY_CACHE_DIR", None)
    else:
        os.environ["ASSAY_CACHE_DIR"] = before


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with train.parquet, test.csv and an assay.yaml that audits them."""
    write_project(tmp_path)
    return tmp_path
