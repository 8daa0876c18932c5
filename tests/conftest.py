"""Shared fixtures: small real files on disk and a spec that audits them."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from _support import write_spec


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with train.parquet, test.csv and an assay.yaml that audits them."""
    train = pa.table(
        {
            "id": list(range(40)),
            "age": [20 + i % 30 for i in range(40)],
            "city": ["a", "b", "c", "d"] * 10,
            "label": [i % 2 for i in range(40)],
        }
    )
    pq.write_table(train, tmp_path / "train.parquet")
    rows = ["id,age,city,label"] + [
        f"{100 + i},{25 + i % 20},{'abcd'[i % 4]},{(i // 2) % 2}" for i in range(20)
    ]
    (tmp_path / "test.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    write_spec(
        tmp_path,
        """
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
        """,
    )
    return tmp_path
