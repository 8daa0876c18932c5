"""The integrity domain across input formats, and what every integrity finding must cite.

The same table is audited as an in-memory Arrow table, a pandas and a polars DataFrame, a
Parquet file and a CSV file: the checks' metrics must not depend on how the data arrived
(pandas and CSV turn NaN into null; the missing-value totals stay the same).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from _integrity_support import RunCheck, run_check_in
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.checks._registry import REGISTRY, Status

FORMATS = ("arrow", "pandas", "polars", "parquet", "csv")


def messy() -> pa.Table:
    """40 rows: 2 missing ages, one out of range, NaN and null incomes, a stray city, 2 copies."""
    n = 38
    age: list[int | None] = [20 + i for i in range(n)]
    age[5], age[6], age[7] = None, None, 150
    income: list[float | None] = [1000.0 + 10 * i for i in range(n)]
    income[8], income[9] = math.nan, None
    city = ["north", "south"] * (n // 2)
    city[10] = "zz"
    table = pa.table(
        {
            "id": list(range(n)),
            "age": age,
            "income": income,
            "city": city,
            "y": [i % 2 for i in range(n)],
        }
    )
    copies = table.slice(0, 2).to_pydict()
    copies["id"] = [100, 101]
    return pa.concat_tables([table, pa.table(copies)])


def dataset(fmt: str, table: pa.Table, root: Path) -> dict[str, Any]:
    if fmt == "arrow":
        return {"data": table}
    if fmt == "pandas":
        return {"data": table.to_pandas()}
    if fmt == "polars":
        return {"data": pl.from_arrow(table)}
    if fmt == "parquet":
        pq.write_table(table, root / "train.parquet")
        return {"path": "train.parquet"}
    pacsv.write_csv(table, root / "train.csv")
    return {"path": "train.csv"}


SCHEMA = {
    "columns": {
        "age": {"type": "integer", "min": 0, "max": 120},
        "city": {"type": "string", "allowed": ["north", "south"]},
    },
    "extra_columns": "allow",
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_metrics_do_not_depend_on_the_input_format(
    run_check: RunCheck, tmp_path: Path, fmt: str
) -> None:
    spec = {
        "train": {**dataset(fmt, messy(), tmp_path), "id": "id", "target": "y", "schema": SCHEMA}
    }

    missing = run_check("integrity.missing_values", spec)
    assert missing.subjects == ["train:age", "train:income"]
    for subject in missing.subjects:
        assert missing.one(subject).metrics["missing_count"] == 2
        assert missing.one(subject).metrics["missing_ratio"] == 0.05

    ranged = run_check("integrity.value_range", spec).one("train:age")
    assert ranged.metrics["out_of_range_count"] == 1
    assert ranged.metrics["out_of_range_ratio"] == 1 / 38

    allowed = run_check("integrity.allowed_values", spec).one("train:city")
    assert allowed.metrics == {"unexpected_count": 1, "unexpected_ratio": 1 / 40}

    duplicates = run_check("integrity.duplicate_rows", spec).one("train")
    assert duplicates.metrics == {
        "duplicate_row_count": 2,
        "duplicate_row_ratio": 0.05,
        "duplicate_groups": 2,
    }

    balance = run_check("integrity.class_balance", spec).one("train:y")
    assert balance.metrics["minority_class_ratio"] == 0.5
    assert balance.status is Status.PASS


@pytest.mark.parametrize("check_id", sorted(i for i in REGISTRY if i.startswith("integrity.")))
def test_every_dataset_finding_cites_its_manifest(
    run_check: RunCheck, tmp_path: Path, check_id: str
) -> None:
    pq.write_table(messy(), tmp_path / "train.parquet")
    pq.write_table(messy().slice(0, 20), tmp_path / "test.parquet")
    common = {"id": "id", "target": "y", "schema": SCHEMA}
    datasets = {
        "train": {"path": "train.parquet", "sha256": "0" * 64, **common},
        "test": {"path": "test.parquet", **common},
    }
    steps = [
        {
            "name": "export",
            "transform": "export",
            "outputs": [{"path": "train.parquet", "sha256": "1" * 64}],
        }
    ]
    result = run_check(check_id, datasets, lineage=steps)
    assert result.findings
    for finding in result.findings:
        cited = {result.artefacts[ref][0] for ref in finding.evidence}
        about = [name for name in ("train", "test") if finding.subject.startswith(name)]
        for name in about:
            assert f"manifest/{name}.json" in cited, (
                f"{finding.subject} does not cite {name}'s manifest"
            )
        if " vs " in finding.subject:
            assert {"manifest/train.json", "manifest/test.json"} <= cited


ROW = st.tuples(
    st.sampled_from([0, 1, None]),
    st.sampled_from(["a", "b", None]),
    st.sampled_from([0.0, 1.5, math.nan, None]),
    st.sampled_from([0, 1]),
)
ORDER_FREE = (
    "integrity.missing_values",
    "integrity.constant_columns",
    "integrity.duplicate_rows",
    "integrity.class_balance",
    "integrity.label_conflicts",
)


@settings(max_examples=25, deadline=None)
@given(rows=st.lists(ROW, min_size=1, max_size=40), data=st.data())
def test_judgements_are_invariant_to_row_order(
    rows: list[tuple[Any, ...]], data: st.DataObject
) -> None:
    order = data.draw(st.permutations(range(len(rows))))
    run = run_check_in(Path.cwd())  # in-memory data only: the folder is never read

    def judged(table_rows: list[tuple[Any, ...]]) -> list[tuple[str, str, object]]:
        table = pa.table(
            {
                "a": pa.array([r[0] for r in table_rows], pa.int64()),
                "b": pa.array([r[1] for r in table_rows], pa.string()),
                "c": pa.array([r[2] for r in table_rows], pa.float64()),
                "y": pa.array([r[3] for r in table_rows], pa.int64()),
            }
        )
        spec = {"train": {"data": table, "target": "y"}}
        return [
            (f.subject, f.status.value, dict(f.metrics))
            for check_id in ORDER_FREE
            for f in run(check_id, spec).findings
        ]

    assert judged(rows) == judged([rows[i] for i in order])
