"""integrity.duplicate_rows, duplicate_ids and train_test_overlap."""

from __future__ import annotations

import math

import pyarrow as pa
import pytest
from _integrity_support import RunCheck

from assay.checks._registry import Status


def rows(n: int, *, first_id: int = 0, offset: float = 0.0) -> pa.Table:
    """``n`` distinct rows with an id, two features and a label."""
    return pa.table(
        {
            "id": list(range(first_id, first_id + n)),
            "x": [float(i) + offset for i in range(n)],
            "k": ["a", "b"] * (n // 2) + ["a"] * (n % 2),
            "y": [i % 2 for i in range(n)],
        }
    )


def repeat(table: pa.Table, indices: list[int], *, new_ids_from: int = 10_000) -> pa.Table:
    """``table`` plus copies of the rows at ``indices`` under fresh ids."""
    copies = table.take(indices).to_pydict()
    copies["id"] = list(range(new_ids_from, new_ids_from + len(indices)))
    return pa.concat_tables([table, pa.table(copies)])


# integrity.duplicate_rows ------------------------------------------------------------------


def test_duplicate_rows_none(run_check: RunCheck) -> None:
    finding = run_check("integrity.duplicate_rows", {"train": {"data": rows(50), "id": "id"}}).one(
        "train"
    )
    assert finding.status is Status.PASS
    assert finding.message == "train: no row repeats another on all columns but 'id'."
    assert finding.metrics == {
        "duplicate_row_count": 0,
        "duplicate_row_ratio": 0.0,
        "duplicate_groups": 0,
    }


@pytest.mark.parametrize(
    ("copies", "status"), [(1, Status.PASS), (5, Status.WARN), (15, Status.FAIL)]
)
def test_duplicate_rows_grades_the_share(run_check: RunCheck, copies: int, status: Status) -> None:
    table = repeat(rows(100 - copies), list(range(copies)))
    finding = run_check("integrity.duplicate_rows", {"train": {"data": table, "id": "id"}}).one(
        "train"
    )
    assert finding.status is status
    assert finding.metrics["duplicate_row_count"] == copies
    assert finding.metrics["duplicate_row_ratio"] == copies / 100


def test_duplicate_rows_evidence_gives_row_numbers_not_values(run_check: RunCheck) -> None:
    table = repeat(rows(20), [3, 3, 7])
    result = run_check("integrity.duplicate_rows", {"train": {"data": table, "id": "id"}})
    finding = result.one("train")
    assert finding.message == (
        "train: 3 of 23 rows (13.0%) repeat an earlier row on all columns but 'id', in 2 groups; "
        "the largest group has 3 rows."
    )
    detail = result.artefact(finding, "integrity.duplicate_rows/")
    assert detail["largest_groups"] == [
        {"count": 3, "rows": [3, 20, 21]},
        {"count": 2, "rows": [7, 22]},
    ]
    assert detail["columns"] == ["x", "k", "y"]


def test_duplicate_rows_without_an_id_compares_every_column(run_check: RunCheck) -> None:
    table = repeat(rows(20), [1])  # the copy has a fresh id: not a duplicate on all columns
    finding = run_check("integrity.duplicate_rows", {"train": {"data": table}}).one("train")
    assert finding.metrics["duplicate_row_count"] == 0


def test_duplicate_rows_missing_values_compare_equal(run_check: RunCheck) -> None:
    table = pa.table({"a": [1.0, None, None, math.nan, math.nan], "b": ["x", None, None, "y", "y"]})
    finding = run_check("integrity.duplicate_rows", {"train": {"data": table}}).one("train")
    assert finding.metrics["duplicate_row_count"] == 2


def test_duplicate_rows_columns_param(run_check: RunCheck) -> None:
    checks = {"integrity.duplicate_rows": {"params": {"columns": ["k"]}}}
    result = run_check("integrity.duplicate_rows", {"train": {"data": rows(10)}}, checks=checks)
    finding = result.one("train")
    assert finding.metrics["duplicate_row_count"] == 8
    assert "on 1 column (k)" in finding.message
    checks = {"integrity.duplicate_rows": {"params": {"columns": ["k", "nope"]}}}
    finding = run_check(
        "integrity.duplicate_rows", {"train": {"data": rows(10)}}, checks=checks
    ).one("train")
    assert finding.status is Status.ERROR
    assert (
        finding.message
        == "train: params.columns of integrity.duplicate_rows names nope, which train lacks."
    )


# integrity.duplicate_ids -------------------------------------------------------------------


def test_duplicate_ids_pass(run_check: RunCheck) -> None:
    finding = run_check("integrity.duplicate_ids", {"train": {"data": rows(30), "id": "id"}}).one(
        "train:id"
    )
    assert finding.status is Status.PASS
    assert finding.message == "train:id: all 30 ids are unique."


def test_duplicate_ids_fail_and_show_the_ids(run_check: RunCheck) -> None:
    table = rows(30).set_column(
        0, "id", pa.array(["c-1", "c-2", "c-2", "c-3", "c-3", "c-3", *map(str, range(24))])
    )
    result = run_check("integrity.duplicate_ids", {"train": {"data": table, "id": "id"}})
    finding = result.one("train:id")
    assert finding.status is Status.FAIL
    assert finding.metrics == {
        "duplicate_id_count": 3,
        "duplicate_id_ratio": 0.1,
        "duplicated_ids": 2,
        "missing_id_count": 0,
    }
    assert (
        finding.message == "train:id: 2 ids repeat (3 extra rows, 10.0%); e.g. 'c-3' ×3, 'c-2' ×2."
    )
    detail = result.artefact(finding, "integrity.duplicate_ids/")
    assert detail["examples"] == [
        {"id": "c-3", "count": 3, "rows": [3, 4, 5]},
        {"id": "c-2", "count": 2, "rows": [1, 2]},
    ]


def test_duplicate_ids_missing_ids_are_not_repeats(run_check: RunCheck) -> None:
    table = rows(6).set_column(0, "id", pa.array([1, None, None, 2, None, 3]))
    finding = run_check("integrity.duplicate_ids", {"train": {"data": table, "id": "id"}}).one(
        "train:id"
    )
    assert finding.status is Status.PASS
    assert finding.metrics["duplicate_id_count"] == 0
    assert finding.metrics["missing_id_count"] == 3


def test_duplicate_ids_checks_unique_schema_columns(run_check: RunCheck) -> None:
    schema = {"columns": {"k": {"type": "string", "unique": True}}, "extra_columns": "allow"}
    result = run_check(
        "integrity.duplicate_ids", {"train": {"data": rows(10), "id": "id", "schema": schema}}
    )
    assert result.subjects == ["train:id", "train:k"]
    assert result.one("train:k").status is Status.FAIL


def test_duplicate_ids_threshold_override(run_check: RunCheck) -> None:
    table = rows(30).set_column(0, "id", pa.array([0, 0, *range(1, 29)]))
    checks = {"integrity.duplicate_ids": {"thresholds": {"duplicate_id_ratio": 0.05}}}
    result = run_check(
        "integrity.duplicate_ids", {"train": {"data": table, "id": "id"}}, checks=checks
    )
    assert result.one("train:id").status is Status.PASS


# integrity.train_test_overlap --------------------------------------------------------------


def split(
    test: pa.Table, *, train: pa.Table | None = None, **extra: dict[str, object]
) -> dict[str, object]:
    common = {"target": "y", "id": "id"}
    return {
        "train": {"data": rows(100) if train is None else train, **common},
        "test": {"data": test, **common},
        **extra,
    }


def test_overlap_none(run_check: RunCheck) -> None:
    finding = run_check(
        "integrity.train_test_overlap", split(rows(40, first_id=500, offset=0.5))
    ).one("test vs train")
    assert finding.status is Status.PASS
    assert finding.metrics == {"overlap_count": 0, "overlap_ratio": 0.0, "shared_id_count": 0}
    assert finding.message == (
        "test vs train: 0 of 40 test rows (0%) also appear in train on all columns but 'id'; "
        "no test id occurs in train."
    )
    assert len(finding.evidence) == 3


def test_overlap_ignores_ids_when_comparing_rows(run_check: RunCheck) -> None:
    test = pa.concat_tables([rows(38, first_id=500, offset=0.5), rows(2, first_id=900)])
    finding = run_check("integrity.train_test_overlap", split(test)).one("test vs train")
    assert finding.metrics["overlap_count"] == 2
    assert finding.metrics["overlap_ratio"] == 0.05
    assert finding.status is Status.WARN


def test_overlap_shared_ids_fail(run_check: RunCheck) -> None:
    test = rows(40, first_id=99, offset=0.5)  # one id in common
    finding = run_check("integrity.train_test_overlap", split(test)).one("test vs train")
    assert finding.metrics["shared_id_count"] == 1
    assert finding.status is Status.FAIL
    assert finding.threshold is not None and finding.threshold.metric == "shared_id_count"
    assert finding.message.endswith("; 1 test id also occurs in train.")


def test_overlap_copied_test_set_fails(run_check: RunCheck) -> None:
    finding = run_check("integrity.train_test_overlap", split(rows(100))).one("test vs train")
    assert finding.metrics == {"overlap_count": 100, "overlap_ratio": 1.0, "shared_id_count": 100}
    assert finding.status is Status.FAIL


def test_overlap_every_test_role_dataset_but_not_drift_roles(run_check: RunCheck) -> None:
    datasets = split(
        rows(10, first_id=500, offset=0.5),
        holdout={"data": rows(10), "role": "test", "target": "y"},
        current={"data": rows(10), "target": "y"},
    )
    result = run_check("integrity.train_test_overlap", datasets)
    assert result.subjects == ["test vs train", "holdout vs train"]
    holdout = result.one("holdout vs train")
    assert holdout.metrics["overlap_ratio"] == 1.0
    assert holdout.metrics["shared_id_count"] is None
    assert holdout.undefined == {
        "shared_id_count": "the two datasets do not name the same `id:` column"
    }


def test_overlap_null_ids_are_not_shared(run_check: RunCheck) -> None:
    train = rows(10).set_column(0, "id", pa.array([None, *range(1, 10)]))
    test = rows(10, offset=0.5).set_column(0, "id", pa.array([None, None, *range(100, 108)]))
    finding = run_check("integrity.train_test_overlap", split(test, train=train)).one(
        "test vs train"
    )
    assert finding.metrics["shared_id_count"] == 0


def test_overlap_columns_param_and_absent_columns(run_check: RunCheck) -> None:
    test = rows(10, first_id=500, offset=0.5)
    checks = {"integrity.train_test_overlap": {"params": {"columns": ["k", "y"]}}}
    finding = run_check("integrity.train_test_overlap", split(test), checks=checks).one(
        "test vs train"
    )
    assert finding.metrics["overlap_count"] == 10
    checks = {"integrity.train_test_overlap": {"params": {"columns": ["nope"]}}}
    finding = run_check("integrity.train_test_overlap", split(test), checks=checks).one(
        "test vs train"
    )
    assert finding.status is Status.ERROR


def test_overlap_without_shared_features_is_skipped(run_check: RunCheck) -> None:
    test = pa.table({"id": [1, 2], "other": [1.0, 2.0], "y": [0, 1]})
    finding = run_check("integrity.train_test_overlap", split(test)).one("test vs train")
    assert finding.status is Status.SKIPPED
    assert finding.message == "test vs train: the datasets share no feature columns."
