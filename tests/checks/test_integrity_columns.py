"""integrity.schema, value_range, allowed_values, missing_values and constant_columns."""

from __future__ import annotations

import json
import math

import pyarrow as pa
import pytest
from _integrity_support import RunCheck

from assay.checks._registry import Status

NAN = math.nan


# integrity.schema --------------------------------------------------------------------------


def people(n: int = 30) -> pa.Table:
    return pa.table(
        {
            "id": list(range(n)),
            "age": [20 + i % 40 for i in range(n)],
            "income": [1000.0 + i for i in range(n)],
            "city": ["a", "b", "c"] * (n // 3),
        }
    )


SCHEMA = {
    "columns": {
        "id": {"type": "integer", "nullable": False},
        "age": {"type": "integer"},
        "income": {"type": "float"},
        "city": {"type": "string"},
    }
}


def test_schema_passes_when_the_data_matches(run_check: RunCheck) -> None:
    result = run_check("integrity.schema", {"train": {"data": people(), "schema": SCHEMA}})
    finding = result.one("train")
    assert finding.status is Status.PASS
    assert finding.message == (
        "train matches its schema: 4 declared columns present with their types and nullability."
    )
    assert finding.metrics == {
        "missing_columns": 0,
        "type_mismatches": 0,
        "nullability_violations": 0,
        "extra_columns": 0,
    }
    assert [result.artefacts[ref][0] for ref in finding.evidence] == ["manifest/train.json"]


def test_schema_names_every_problem(run_check: RunCheck) -> None:
    table = (
        people()
        .drop_columns(["income"])
        .set_column(1, "age", pa.array([str(20 + i) for i in range(30)]))
    )
    table = table.set_column(0, "id", pa.array([None, *range(1, 30)], pa.int64()))
    table = table.append_column("notes", pa.array(["x"] * 30))
    result = run_check("integrity.schema", {"train": {"data": table, "schema": SCHEMA}})
    finding = result.one("train")
    assert finding.status is Status.FAIL
    assert finding.message == (
        "train does not match its schema: 1 missing column (income); 1 type mismatch "
        "(age declared integer, found string); 1 non-nullable column with missing values "
        "(id: 1 missing); 1 extra column (notes)."
    )
    assert finding.metrics == {
        "missing_columns": 1,
        "type_mismatches": 1,
        "nullability_violations": 1,
        "extra_columns": 1,
    }
    assert finding.threshold is not None and finding.threshold.metric == "missing_columns"
    detail = result.artefact(finding, "integrity.schema/")
    assert detail["type_mismatches"] == [
        {"column": "age", "declared": "integer", "found": "string", "arrow_type": "string"}
    ]
    assert detail["nullability_violations"] == [{"column": "id", "missing": 1}]


def test_schema_counts_nan_as_a_missing_value(run_check: RunCheck) -> None:
    table = people().set_column(2, "income", pa.array([NAN] + [1.0] * 29))
    schema = {"columns": {"income": {"type": "float", "nullable": False}}, "extra_columns": "allow"}
    finding = run_check("integrity.schema", {"train": {"data": table, "schema": schema}}).one(
        "train"
    )
    assert finding.status is Status.FAIL
    assert finding.metrics["nullability_violations"] == 1


def test_schema_accepts_integers_for_float_and_an_all_null_column_for_any_type(
    run_check: RunCheck,
) -> None:
    table = pa.table({"x": [1, 2, 3], "empty": pa.array([None, None, None], pa.null())})
    schema = {"columns": {"x": {"type": "float"}, "empty": {"type": "date"}}}
    finding = run_check("integrity.schema", {"train": {"data": table, "schema": schema}}).one(
        "train"
    )
    assert finding.status is Status.PASS


@pytest.mark.parametrize(
    ("policy", "status"),
    [("allow", Status.PASS), ("warn", Status.WARN), ("fail", Status.FAIL)],
)
def test_schema_extra_columns_follow_the_schema_policy(
    run_check: RunCheck, policy: str, status: Status
) -> None:
    schema = {"columns": {"id": {"type": "integer"}}, "extra_columns": policy}
    finding = run_check("integrity.schema", {"train": {"data": people(), "schema": schema}}).one(
        "train"
    )
    assert finding.status is status
    assert finding.metrics["extra_columns"] == 3
    note = " allowed" if policy == "allow" else ""
    assert finding.message == (
        f"train does not match its schema: 3 extra columns{note} (age, income, city)."
    )


def test_schema_inferred_from_train(run_check: RunCheck) -> None:
    test = people(12).append_column("extra", pa.array([1] * 12))
    result = run_check(
        "integrity.schema",
        {"train": {"data": people()}, "test": {"data": test, "schema": {"infer": "train"}}},
    )
    assert result.subjects == ["test"]
    finding = result.one("test")
    assert finding.status is Status.WARN
    assert (
        finding.message
        == "test does not match its schema (inferred from train): 1 extra column (extra)."
    )


# integrity.value_range ---------------------------------------------------------------------


def ranged(
    values: list[float | None], *, kind: str = "float", **bounds: float
) -> dict[str, object]:
    table = pa.table({"x": pa.array(values, pa.float64() if kind == "float" else pa.int64())})
    return {"train": {"data": table, "schema": {"columns": {"x": {"type": kind, **bounds}}}}}


@pytest.mark.parametrize(
    ("bad", "status"),
    # of 200 values: 0%, 0.5%, 1% (the fail level itself) and 1.5%
    [(0, Status.PASS), (1, Status.WARN), (2, Status.WARN), (3, Status.FAIL)],
)
def test_value_range_grades_the_share_out_of_range(
    run_check: RunCheck, bad: int, status: Status
) -> None:
    values = [float(i % 100) for i in range(200 - bad)] + [150.0] * bad
    finding = run_check("integrity.value_range", ranged(values, min=0, max=100)).one("train:x")
    assert finding.status is status
    assert finding.metrics["out_of_range_count"] == bad
    assert finding.metrics["out_of_range_ratio"] == bad / 200


def test_value_range_bounds_are_inclusive_and_the_message_exact(run_check: RunCheck) -> None:
    finding = run_check("integrity.value_range", ranged([0.0, 50.0, 100.0], min=0, max=100)).one(
        "train:x"
    )
    assert finding.status is Status.PASS
    assert finding.message == "train:x: all 3 values lie within [0, 100]."


def test_value_range_counts_present_values_only(run_check: RunCheck) -> None:
    # NaN and null are missing, not out of range, whichever side they sort on.
    result = run_check(
        "integrity.value_range", ranged([1.0, NAN, None, 500.0, -1.0], min=0, max=100)
    )
    finding = result.one("train:x")
    assert finding.metrics == {
        "out_of_range_count": 2,
        "out_of_range_ratio": pytest.approx(2 / 3),
        "below_min_count": 1,
        "above_max_count": 1,
    }
    assert finding.status is Status.FAIL
    assert (
        finding.message == "train:x: 2 of 3 values (66.7%) lie outside [0, 100] (1 below; 1 above)."
    )
    detail = result.artefact(finding, "integrity.value_range/")
    assert detail["examples"] == [-1.0, 500.0]
    json.dumps(detail, allow_nan=False)


def test_value_range_with_one_bound(run_check: RunCheck) -> None:
    finding = run_check("integrity.value_range", ranged([-2.0, 1.0], kind="float", min=0)).one(
        "train:x"
    )
    assert finding.metrics["below_min_count"] == 1
    assert "outside [0, ∞)" in finding.message


def test_value_range_skips_a_column_without_values(run_check: RunCheck) -> None:
    finding = run_check("integrity.value_range", ranged([None, None], min=0)).one("train:x")
    assert finding.status is Status.SKIPPED
    assert finding.metrics["out_of_range_ratio"] is None
    assert finding.undefined == {"out_of_range_ratio": "the column has no present values"}


def test_value_range_skips_text_and_absent_columns(run_check: RunCheck) -> None:
    table = pa.table({"s": ["a", "b"]})
    schema = {"columns": {"s": {"type": "string", "min": 0}, "gone": {"type": "float", "max": 1}}}
    result = run_check("integrity.value_range", {"train": {"data": table, "schema": schema}})
    assert result.one("train:s").status is Status.SKIPPED
    assert "holds string values" in result.one("train:s").message
    assert (
        result.one("train:gone").message
        == "train:gone: the column is absent (integrity.schema reports it)."
    )


# integrity.allowed_values ------------------------------------------------------------------


def categorical(
    values: list[object], allowed: list[object], kind: str = "string"
) -> dict[str, object]:
    return {
        "train": {
            "data": pa.table({"c": values}),
            "schema": {"columns": {"c": {"type": kind, "allowed": allowed}}},
        }
    }


def test_allowed_values_pass(run_check: RunCheck) -> None:
    finding = run_check("integrity.allowed_values", categorical(["a", "b", None], ["a", "b"])).one(
        "train:c"
    )
    assert finding.status is Status.PASS
    assert finding.message == "train:c: all 2 values are among the 2 allowed."


def test_allowed_values_lists_the_commonest_unexpected(run_check: RunCheck) -> None:
    values = ["a"] * 90 + ["x"] * 6 + ["y"] * 3 + ["z"]
    result = run_check("integrity.allowed_values", categorical(values, ["a"]))
    finding = result.one("train:c")
    assert finding.status is Status.FAIL
    assert finding.metrics == {"unexpected_count": 10, "unexpected_ratio": 0.1}
    assert finding.message == (
        "train:c: 10 of 100 values (10.0%) are not allowed; commonest: 'x' (6), 'y' (3), 'z' (1)."
    )
    detail = result.artefact(finding, "integrity.allowed_values/")
    assert detail["commonest_unexpected"] == [
        {"value": "x", "count": 6},
        {"value": "y", "count": 3},
        {"value": "z", "count": 1},
    ]


def test_allowed_values_warns_below_the_fail_level(run_check: RunCheck) -> None:
    values = ["a"] * 199 + ["b"]
    assert (
        run_check("integrity.allowed_values", categorical(values, ["a"])).one("train:c").status
        is Status.WARN
    )


@pytest.mark.parametrize(
    ("values", "allowed", "kind", "unexpected"),
    [
        ([0.0, 1.0, NAN, None, 2.0], [0, 1], "float", 1),  # NaN is missing, 0 matches 0.0
        ([1, 2, 3], [1.0, 2.0], "integer", 1),
        ([True, False, None], [True], "boolean", 1),
        ([True, False], [0, 1], "boolean", 0),
    ],
)
def test_allowed_values_compare_as_the_column_type(
    run_check: RunCheck, values: list[object], allowed: list[object], kind: str, unexpected: int
) -> None:
    finding = run_check("integrity.allowed_values", categorical(values, allowed, kind)).one(
        "train:c"
    )
    assert finding.metrics["unexpected_count"] == unexpected


# integrity.missing_values ------------------------------------------------------------------


def test_missing_values_clean_dataset_gives_one_pass(run_check: RunCheck) -> None:
    result = run_check("integrity.missing_values", {"train": {"data": people()}})
    assert result.subjects == ["train"]
    finding = result.one("train")
    assert finding.status is Status.PASS
    assert finding.message == "train: no missing values in 4 columns (30 rows)."
    assert finding.metrics == {"missing_ratio": 0.0, "n_columns": 4}


def test_missing_values_counts_nulls_and_nans(run_check: RunCheck) -> None:
    table = pa.table({"x": [1.0, NAN, None, 4.0], "y": [1, 2, 3, 4]})
    result = run_check("integrity.missing_values", {"train": {"data": table}})
    assert result.subjects == ["train:x"]
    finding = result.one("train:x")
    assert finding.metrics == {
        "missing_count": 2,
        "missing_ratio": 0.5,
        "null_count": 1,
        "nan_count": 1,
    }
    assert finding.status is Status.FAIL
    assert finding.message == "train:x: 2 of 4 values missing (50.0%; 1 null, 1 NaN)."


@pytest.mark.parametrize(
    ("missing", "status"), [(1, Status.PASS), (2, Status.WARN), (7, Status.FAIL)]
)
def test_missing_values_grades_per_column(
    run_check: RunCheck, missing: int, status: Status
) -> None:
    table = pa.table({"x": [None] * missing + [1] * (20 - missing)})
    finding = run_check("integrity.missing_values", {"train": {"data": table}}).one("train:x")
    assert finding.status is status  # 5% passes, 10% warns, 35% fails


def test_missing_values_all_null_column_and_declared_non_nullable(run_check: RunCheck) -> None:
    table = pa.table({"x": pa.array([None] * 4, pa.int64()), "y": [1, None, 3, 4]})
    schema = {"columns": {"y": {"type": "integer", "nullable": False}}, "extra_columns": "allow"}
    result = run_check("integrity.missing_values", {"train": {"data": table, "schema": schema}})
    assert result.one("train:x").metrics["missing_ratio"] == 1.0
    assert result.one("train:x").status is Status.FAIL
    assert result.one("train:y").message == (
        "train:y: 1 of 4 values missing (25.0%; declared nullable: false, see integrity.schema)."
    )


# integrity.constant_columns ----------------------------------------------------------------


def test_constant_columns_pass(run_check: RunCheck) -> None:
    finding = run_check("integrity.constant_columns", {"train": {"data": people()}}).one("train")
    assert finding.status is Status.PASS
    assert finding.message == "train: no empty or constant column among 4 columns."


def test_constant_columns_warn_and_empty_columns_fail(run_check: RunCheck) -> None:
    table = pa.table({"x": [1, 2, 3], "k": [7.0, NAN, 7.0], "z": [NAN, NAN, None]})
    finding = run_check("integrity.constant_columns", {"train": {"data": table}}).one("train")
    assert finding.metrics == {"empty_columns": 1, "constant_columns": 1, "n_columns": 3}
    assert finding.status is Status.FAIL
    assert finding.message == "train: 1 empty column (z) and 1 constant column (k)."
    table = table.drop_columns(["z"])
    finding = run_check("integrity.constant_columns", {"train": {"data": table}}).one("train")
    assert finding.status is Status.WARN
    assert finding.threshold is not None and finding.threshold.metric == "constant_columns"


def test_constant_columns_names_nested_columns_not_checked(run_check: RunCheck) -> None:
    table = pa.table({"x": [1, 2], "tags": [[1], [2, 3]]})
    finding = run_check("integrity.constant_columns", {"train": {"data": table}}).one("train")
    assert finding.status is Status.PASS
    assert finding.message == (
        "train: no empty or constant column among 1 column (1 nested column not checked: tags)."
    )
