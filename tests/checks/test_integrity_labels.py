"""integrity.class_balance and integrity.label_conflicts."""

from __future__ import annotations

import pyarrow as pa
import pytest
from _integrity_support import RunCheck

from assay.checks._registry import Status


def labelled(y: list[object], **spec: object) -> dict[str, object]:
    n = len(y)
    table = pa.table({"id": list(range(n)), "x": [float(i) for i in range(n)], "y": y})
    return {"train": {"data": table, "target": "y", "id": "id", **spec}}


# integrity.class_balance -------------------------------------------------------------------


def test_class_balance_pass(run_check: RunCheck) -> None:
    result = run_check("integrity.class_balance", labelled([0, 1] * 50))
    finding = result.one("train:y")
    assert finding.status is Status.PASS
    assert (
        finding.message == "train:y: 2 classes; the rarest, 1, has 50 of 100 labelled rows (50.0%)."
    )
    assert finding.metrics == {
        "n_classes": 2,
        "minority_class_ratio": 0.5,
        "majority_class_ratio": 0.5,
        "missing_label_count": 0,
    }
    detail = result.artefact(finding, "integrity.class_balance/")
    assert detail["classes"] == [{"value": 0, "count": 50}, {"value": 1, "count": 50}]


@pytest.mark.parametrize(
    ("rare", "status"),
    # of 200 rows: 10% (the warn level itself), 5%, 0.5%
    [(20, Status.PASS), (10, Status.WARN), (1, Status.FAIL)],
)
def test_class_balance_grades_the_rarest_class(
    run_check: RunCheck, rare: int, status: Status
) -> None:
    y = ["no"] * (200 - rare) + ["yes"] * rare
    finding = run_check("integrity.class_balance", labelled(y)).one("train:y")
    assert finding.metrics["minority_class_ratio"] == rare / 200
    assert finding.status is status


def test_class_balance_single_class_fails_clearly(run_check: RunCheck) -> None:
    finding = run_check("integrity.class_balance", labelled(["no"] * 30)).one("train:y")
    assert finding.status is Status.FAIL
    assert finding.message == (
        "train:y: every labelled row (30) has the same class 'no'; a classifier cannot learn, "
        "nor be evaluated, from one class."
    )
    assert finding.metrics["minority_class_ratio"] is None
    assert finding.undefined == {"minority_class_ratio": "only one class is present"}


def test_class_balance_too_few_labels_is_skipped(run_check: RunCheck) -> None:
    result = run_check("integrity.class_balance", labelled([0, 1] * 5 + [None] * 20))
    finding = result.one("train:y")
    assert finding.status is Status.SKIPPED
    assert finding.message == "insufficient data: n=10, need 20."
    assert [result.artefacts[ref][0] for ref in finding.evidence] == ["manifest/train.json"]


def test_class_balance_positive_rate_and_missing_labels(run_check: RunCheck) -> None:
    y = [1] * 30 + [0] * 60 + [None] * 10
    finding = run_check("integrity.class_balance", labelled(y, positive_label="1")).one("train:y")
    assert finding.metrics["positive_rate"] == pytest.approx(1 / 3)
    assert finding.metrics["missing_label_count"] == 10
    assert finding.message.endswith("; positive rate 33.3%.")


def test_class_balance_absent_positive_label_fails(run_check: RunCheck) -> None:
    finding = run_check(
        "integrity.class_balance", labelled(["a", "b"] * 20, positive_label="yes")
    ).one("train:y")
    assert finding.status is Status.FAIL
    assert (
        finding.message == "train:y: positive_label 'yes' never occurs; the classes are 'a', 'b'."
    )
    assert finding.metrics["positive_rate"] == 0.0


def test_class_balance_skips_a_regression_target(run_check: RunCheck) -> None:
    finding = run_check("integrity.class_balance", labelled([i / 7 for i in range(50)])).one(
        "train:y"
    )
    assert finding.status is Status.SKIPPED
    assert "looks like a regression target" in finding.message


def test_class_balance_boolean_target(run_check: RunCheck) -> None:
    finding = run_check(
        "integrity.class_balance", labelled([True] * 25 + [False] * 5, positive_label=True)
    ).one("train:y")
    assert finding.metrics["positive_rate"] == pytest.approx(25 / 30)


# integrity.label_conflicts -----------------------------------------------------------------


def conflicting(n: int, conflicts: int) -> dict[str, object]:
    """``n`` rows with distinct features; the last ``conflicts`` copy row 0's features."""
    x = [float(i) for i in range(n - conflicts)] + [0.0] * conflicts
    y = [0] * (n - conflicts) + [1] * conflicts
    table = pa.table({"id": list(range(n)), "x": x, "k": ["a"] * n, "score": [0.5] * n, "y": y})
    return {"train": {"data": table, "target": "y", "id": "id", "score": "score"}}


@pytest.mark.parametrize(
    ("conflicts", "status"), [(0, Status.PASS), (1, Status.WARN), (20, Status.FAIL)]
)
def test_label_conflicts_grades(run_check: RunCheck, conflicts: int, status: Status) -> None:
    result = run_check("integrity.label_conflicts", conflicting(100, conflicts))
    finding = result.one("train")
    rows_in_conflict = conflicts + 1 if conflicts else 0
    assert finding.metrics == {
        "conflicting_row_ratio": rows_in_conflict / 100,
        "conflicting_row_count": rows_in_conflict,
        "conflicting_groups": 1 if conflicts else 0,
    }
    assert finding.status is status


def test_label_conflicts_message_and_evidence(run_check: RunCheck) -> None:
    result = run_check("integrity.label_conflicts", conflicting(100, 2))
    finding = result.one("train")
    assert finding.message == (
        "train: 3 rows (3.0%) in 1 group share identical values on 2 feature columns "
        "but carry different labels of 'y'."
    )
    detail = result.artefact(finding, "integrity.label_conflicts/")
    assert detail["features"] == ["x", "k"]  # not the id, the score or the target
    assert detail["largest_groups"] == [{"count": 3, "labels": 2}]


def test_label_conflicts_too_few_rows_and_regression(run_check: RunCheck) -> None:
    assert (
        run_check("integrity.label_conflicts", conflicting(10, 1)).one("train").status
        is Status.SKIPPED
    )
    finding = run_check("integrity.label_conflicts", labelled([i / 7 for i in range(50)])).one(
        "train"
    )
    assert finding.status is Status.SKIPPED


def test_label_conflicts_without_features(run_check: RunCheck) -> None:
    table = pa.table({"id": list(range(30)), "y": [0, 1] * 15})
    result = run_check(
        "integrity.label_conflicts", {"train": {"data": table, "target": "y", "id": "id"}}
    )
    finding = result.one("train")
    assert finding.status is Status.SKIPPED
    assert finding.message == (
        "train: the dataset has no feature columns besides the target and role columns."
    )
