"""Masking methods, the column scan and its prefilter, and streaming over batches."""

from __future__ import annotations

import random

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from assay.errors import AssayError
from assay.privacy import (
    PREFILTER,
    ColumnScan,
    candidates,
    mask_array,
    mask_text,
    scan_array,
    scan_batches,
    scan_text,
)
from assay.privacy.mask import KEY_MISSING

KEY = b"k" * 32
SAMPLES = [
    "mail jo@example.com",
    "call +44 20 7946 0958",
    "tel 2125550199",
    "Card 4111 1111 1111 1111",
    "IBAN DE89 3704 0044 0532 0130 00",
    "SSN 123-45-6780",
    "from 192.168.0.1",
    "via fe80::1ff:fe23:4567:890a",
    "::1",
    "born on March 5, 1985",
    "DOB 5-Mar-1985",
    "key AKIAIOSFODNN7EXAMPLE",
    "password=hunter2hunter2",
    "-----BEGIN RSA PRIVATE KEY-----",
    "x Zx8Kq2LmN4pR7sT9vW1yB3cD5fG6hJ0",
    "cc: 588802704522",
    "(09022) 16742",
]


def test_redact_names_the_kind() -> None:
    assert mask_text("mail jo@example.com, SSN 123-45-6780") == "mail [EMAIL], SSN [SSN]"


def test_partial_keeps_only_the_customary_characters() -> None:
    assert mask_text("jo@example.com", "partial") == "j***@e***.com"
    assert mask_text("4111 1111 1111 1111", "partial") == "**** **** **** 1111"
    assert mask_text("SSN 123-45-6780", "partial") == "SSN ***-**-6780"
    assert mask_text("DE89370400440532013000", "partial") == "DE" + "*" * 16 + "3000"
    assert mask_text("from 192.168.0.1", "partial") == "from 192.*.*.*"
    assert mask_text("born 1985-03-05", "partial") == "born ****-**-**"
    assert mask_text("key AKIAIOSFODNN7EXAMPLE", "partial") == "key AKIA****"


def test_hash_is_keyed_and_stable() -> None:
    one = mask_text("mail jo@example.com", "hash", KEY)
    assert one == mask_text("mail JO@example.com", "hash", KEY)  # normalised before hashing
    assert one != mask_text("mail jo@example.com", "hash", b"other-key-" * 4)
    assert one.startswith("mail <EMAIL:") and "jo@" not in one
    # one phone written two ways is one token
    assert mask_text("212-555-0199", "hash", KEY) == mask_text("tel 2125550199", "hash", KEY)[4:]


def test_hash_without_a_key_names_the_fix() -> None:
    with pytest.raises(AssayError) as err:
        mask_text("jo@example.com", "hash")
    assert str(err.value) == KEY_MISSING.format(env="ASSAY_MASK_KEY")
    with pytest.raises(AssayError, match="at least 16"):
        mask_text("jo@example.com", "hash", b"short")


def test_unknown_method() -> None:
    with pytest.raises(AssayError, match="not one of redact, hash, partial"):
        mask_text("x", "scramble")  # type: ignore[arg-type]


@pytest.mark.parametrize("method", ["redact", "hash", "partial"])
def test_no_method_leaves_a_raw_value(method: str) -> None:
    for text in SAMPLES:
        masked = mask_text(text, method, KEY)  # type: ignore[arg-type]
        for m in scan_text(text):
            assert m.value not in masked, (text, masked)


def test_prefilter_keeps_every_row_with_an_entity() -> None:
    """The prefilter may keep too much, never too little: every detection implies a match."""
    rng = random.Random(0)
    texts = SAMPLES + [
        f"{rng.choice(['x ', ''])}{t}{rng.choice(['.', ' ok', ''])}" for t in SAMPLES
    ]
    flags = pc.match_substring_regex(pa.array(texts), PREFILTER).to_pylist()
    for text, flag in zip(texts, flags, strict=True):
        if scan_text(text, context={"phone", "date_of_birth", "us_ssn"}):
            assert flag, text


def test_candidates_skip_plain_text_and_nulls() -> None:
    array = pa.array(["hello world", None, "mail jo@example.com", "nothing"])
    assert candidates(array).to_pylist() == [2]
    assert [(row, [m.kind for m in found]) for row, found in scan_array(array)] == [(2, ["email"])]


def test_mask_array_keeps_type_nulls_and_clean_rows() -> None:
    array = pa.array(["hello", None, "mail jo@example.com"], pa.large_string())
    masked, counts = mask_array(array, "redact")
    assert masked.type == pa.large_string()
    assert masked.to_pylist() == ["hello", None, "mail [EMAIL]"]
    assert counts == {"email": 1}


def test_dictionary_and_chunked_columns() -> None:
    array = pa.chunked_array(
        [pa.array(["jo@example.com", "x"]).dictionary_encode(), pa.array(["y"]).dictionary_encode()]
    )
    assert [row for row, _ in scan_array(array)] == [0]


def test_streaming_over_batches_counts_every_row() -> None:
    rows = 10_000
    notes = [f"order {i} ok" for i in range(rows)]
    planted = {17, 4_099, 8_200, 9_999}
    for i in planted:
        notes[i] = f"mail user{i}@example.com"
    table = pa.table({"notes": notes, "n": list(range(rows))})
    reports = scan_batches(table.to_batches(max_chunksize=1_000))
    assert list(reports) == ["notes"]  # text columns only
    report = reports["notes"]
    assert (report.n_rows, report.n_values, report.hit_count) == (rows, rows, 4)
    assert report.kinds == {"email": 4}
    assert [row for row, _ in report.examples["email"]] == [17, 4_099, 8_200]  # three at most
    assert all("@e***.com" in text and "user" not in text for _, text in report.examples["email"])


def test_column_names_give_context() -> None:
    scan = ColumnScan("date_of_birth", context=frozenset({"date_of_birth"}))
    scan.update(pa.array(["1985-03-05", "2001-12-31", None]))
    result = scan.result()
    assert (result.hit_count, result.n_values, result.kinds) == (2, 2, {"date_of_birth": 2})
    assert scan_batches([pa.record_batch({"dob": ["1985-03-05"]})])["dob"].hit_count == 1
