"""Fixtures of the report tests; the runs themselves are built in report_fixtures.py."""

from __future__ import annotations

import pytest
from report_fixtures import Stored, build_empty, build_passing, build_stored


@pytest.fixture
def stored() -> Stored:
    """A failing run with findings in seven domains, every status and four artefacts."""
    return build_stored()


@pytest.fixture
def passing() -> Stored:
    return build_passing()


@pytest.fixture
def empty() -> Stored:
    return build_empty()
