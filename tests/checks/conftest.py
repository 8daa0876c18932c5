"""Fixtures for the check tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from _integrity_support import RunCheck, run_check_in


@pytest.fixture
def run_check(tmp_path: Path) -> RunCheck:
    """``run_check(check_id, {"train": {"data": table, ...}}, lineage=..., checks=...)``."""
    return run_check_in(tmp_path)
