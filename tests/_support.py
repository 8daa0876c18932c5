"""Helpers shared by tests (importable because pytest puts tests/ on the path)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def write_spec(folder: Path, body: str) -> Path:
    """Write ``body`` (dedented) to ``folder/assay.yaml`` and return the path."""
    path = folder / "assay.yaml"
    path.write_text(textwrap.dedent(body).lstrip(), encoding="utf-8")
    return path


PROJECT_SPEC = """
version: 1
system:
  name: tiny
  version: "1.0"
owners:
  default: team@example.org
datasets:
  train:
    path: train.parquet
    target: label
    id: id
  test:
    path: test.csv
    target: label
    id: id
    schema: {infer: train}
"""


def write_project(folder: Path) -> Path:
    """Train.parquet, test.csv and an assay.yaml auditing them, in ``folder``; returns the spec."""
    folder.mkdir(parents=True, exist_ok=True)
    train = pa.table(
        {
            "id": list(range(40)),
            "age": [20 + i % 30 for i in range(40)],
            "city": ["a", "b", "c", "d"] * 10,
            "label": [i % 2 for i in range(40)],
        }
    )
    pq.write_table(train, folder / "train.parquet")
    rows = ["id,age,city,label"] + [
        f"{100 + i},{25 + i % 20},{'abcd'[i % 4]},{(i // 2) % 2}" for i in range(20)
    ]
    (folder / "test.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return write_spec(folder, PROJECT_SPEC)
