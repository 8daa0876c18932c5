"""Helpers for the model-adapter tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from assay.spec import load_spec
from assay.spec.models import Spec

MINIMAL = "version: 1\nsystem: {name: x}\n"


@dataclass(frozen=True)
class Fitted:
    """A fitted model and the data it predicts."""

    model: Any
    table: pa.Table  # the feature columns
    frame: pd.DataFrame


def spec_with(folder: Path, model_yaml: str) -> Spec:
    """Write ``assay.yaml`` with ``model_yaml`` (indented lines under ``model:``) and load it."""
    path = folder / "assay.yaml"
    path.write_text(MINIMAL + "model:\n" + model_yaml, encoding="utf-8")
    return load_spec(path)
