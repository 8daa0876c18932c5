"""``security.pii`` on clean and leaky tables, declared columns, options and text outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from _pii_support import run_pii

from assay.checks._registry import Status

RAW = ["jo.smith@example.com", "123-45-6780", "4111 1111 1111 1111", "+44 20 7946 0958"]


def leaky(n: int = 200) -> pa.Table:
    notes = [f"order {i} shipped" for i in range(n)]
    for i, value in enumerate(RAW):
        notes[i * 10] = f"customer note: {value}"
    return pa.table(
        {
            "id": list(range(n)),
            "notes": notes,
            "colour": ["red", "green"] * (n // 2),
            "email": [f"user{i}@example.org" for i in range(n)],
        }
    )


def test_clean_text_columns_pass(tmp_path: Path) -> None:
    table = pa.table({"id": [1, 2, 3], "colour": ["red", "green", "blue"]})
    result = run_pii({"train": {"data": table}}, tmp_path)
    finding = result.one("train:colour")
    assert finding.status == Status.PASS
    assert finding.metrics["hit_count"] == 0 and finding.metrics["hit_rate"] == 0
    assert (
        finding.message
        == "train:colour: no personal data or secrets in 3 values (every row scanned)."
    )


def test_pii_in_an_undeclared_column_fails_with_masked_evidence(tmp_path: Path) -> None:
    result = run_pii({"train": {"data": leaky()}}, tmp_path)
    finding = result.one("train:notes")
    assert finding.status == Status.FAIL
    assert finding.metrics["hit_count"] == 4
    assert finding.metrics["hit_rate"] == 4 / 200
    assert finding.metrics["email_count"] == 1 and finding.metrics["us_ssn_count"] == 1
    assert finding.metrics["payment_card_count"] == 1 and finding.metrics["phone_count"] == 1
    assert finding.metrics["iban_count"] == 0
    assert finding.message == (
        "train:notes: 4 of 200 values (2.0%) hold personal data or secrets: email 1, phone 1, "
        "payment_card 1, us_ssn 1."
    )
    evidence = result.artefact(finding)
    assert evidence["masking"] == "partial"
    assert evidence["examples"]["us_ssn"] == [{"row": 10, "masked": "***-**-6780"}]
    assert evidence["examples"]["email"] == [{"row": 0, "masked": "j***@e***.com"}]
    assert result.one("train:colour").status == Status.PASS


def test_examples_are_capped_per_kind(tmp_path: Path) -> None:
    result = run_pii({"train": {"data": leaky()}}, tmp_path)
    finding = result.one("train:email")
    assert finding.metrics["hit_count"] == 200
    assert len(result.artefact(finding)["examples"]["email"]) == 3


def test_reports_never_hold_raw_values(tmp_path: Path) -> None:
    result = run_pii({"train": {"data": leaky()}}, tmp_path)
    text = result.everything()
    for value in [*RAW, "user7@example.org", "7946 0958", "4111 1111"]:
        assert value not in text


def test_declared_columns_pass_but_are_reported(tmp_path: Path) -> None:
    params = {"allowed_columns": ["email", "train:notes"]}
    result = run_pii({"train": {"data": leaky()}}, tmp_path, params=params)
    email = result.one("train:email")
    assert email.status == Status.PASS and email.metrics["hit_count"] == 200
    assert "declared in params.allowed_columns" in email.message
    assert email.evidence[1:]  # still evidence
    assert result.one("train:notes").status == Status.PASS


def test_threshold_can_be_loosened_for_free_text(tmp_path: Path) -> None:
    result = run_pii(
        {"train": {"data": leaky()}}, tmp_path, thresholds={"hit_rate": {"warn": 0, "fail": 0.05}}
    )
    assert result.one("train:notes").status == Status.WARN
    assert result.one("train:email").status == Status.FAIL


def test_options_columns_and_kinds(tmp_path: Path) -> None:
    result = run_pii(
        {"train": {"data": leaky()}}, tmp_path, params={"columns": ["notes"], "kinds": ["us_ssn"]}
    )
    assert [f.subject for f in result.findings] == ["train:notes"]
    assert result.one("train:notes").metrics["hit_count"] == 1
    absent = run_pii({"train": {"data": leaky()}}, tmp_path, params={"columns": ["nope"]})
    finding = absent.one("params.columns")
    assert finding.status == Status.ERROR and "'nope'" not in finding.message
    assert "nope" in finding.message


def test_all_null_and_no_text_columns_are_skipped(tmp_path: Path) -> None:
    table = pa.table({"n": [1, 2], "notes": pa.array([None, None], pa.string())})
    result = run_pii({"train": {"data": table}}, tmp_path)
    assert result.one("train:notes").status == Status.SKIPPED
    numbers = run_pii({"train": {"data": pa.table({"n": [1, 2]})}}, tmp_path)
    assert numbers.one("train").status == Status.SKIPPED


class Echo:
    """A 'model' whose answers are text that repeats an e-mail address now and then."""

    def predict(self, x: Any) -> np.ndarray:
        n = len(x)
        return np.array(["ok" if i % 50 else "write to jo@example.com" for i in range(n)], object)


def test_text_predictions_are_scanned(tmp_path: Path) -> None:
    table = pa.table({"x": [float(i) for i in range(100)]})
    result = run_pii(
        {"test": {"data": table, "role": "test"}},
        tmp_path,
        model={"object": Echo(), "features": ["x"], "trust": True},
    )
    finding = result.one("test:<predictions>")
    assert finding.status == Status.FAIL and finding.metrics["email_count"] == 2
    assert "jo@example.com" not in result.everything()


def test_a_column_with_few_values_is_judged_by_its_exact_value_counts(tmp_path: Path) -> None:
    n = 40_000
    colours = pa.array(["red", "green", "blue", None] * (n // 4))
    contact = pa.array(["none", "call 020 7946 0958"] * (n // 2))
    table = pa.table({"colour": colours, "contact": contact})
    result = run_pii({"train": {"data": table}}, tmp_path)
    clean = result.one("train:colour")
    assert clean.status == Status.PASS and clean.metrics["n_values"] == n * 3 // 4
    leak = result.one("train:contact")  # a hit among the distinct values: every row streamed
    assert leak.status == Status.FAIL and leak.metrics["hit_count"] == n // 2
    assert result.artefact(leak)["examples"]["phone"][0]["row"] == 1
