"""Text columns read dictionary-encoded by the profile pass give the same profile, row hashes
and sample as the same columns read as plain strings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import assay.profiles.engine as engine
from assay.profiles.engine import ScanOptions, run_inline, scan
from assay.profiles.sketches import dictionary_counts, hash_array
from assay.runner import open_inputs
from assay.sources.readers import BATCH_SIZE, dictionary_columns
from assay.spec.loader import parse_spec


def _texts(rows: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    low = rng.choice(["red", "green", "blue", "", None], rows).tolist()
    many = [None if i % 97 == 0 else f"id-{rng.integers(0, 5 * rows)}" for i in range(rows)]
    common = rng.choice([f"c{i}" for i in range(1500)], rows).tolist()  # past the counts cap
    return pa.table({"low": low, "many": many, "common": common, "x": rng.normal(size=rows)})


def _scan(tmp_path: Path, plain: bool, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    # Row groups of a whole batch: plain and dictionary batches end at the same rows, so the
    # frequent-items summary (past the cap, it depends on the batches) is identical too.
    table = _texts(140_000, seed=4)
    pq.write_table(table, tmp_path / "t.parquet", row_group_size=BATCH_SIZE)
    spec = parse_spec(
        b"version: 1\nsystem: {name: t}\ndatasets:\n  train: {path: t.parquet}\n",
        base_dir=tmp_path,
    )
    if plain:
        monkeypatch.setattr(engine, "dictionary_columns", lambda ds: set())
    options = ScanOptions(sample_size=500, seed=3)
    result = scan(open_inputs(spec), options, executor=run_inline)["train"]
    monkeypatch.undo()
    return {
        "profiles": {c: result.profile[c] for c in table.column_names},
        "hashes": result.hashes,
        "sample": result.sample,
    }


def test_dictionary_reading_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert engine.dictionary_columns  # the pass does read text dictionary-encoded
    fast = _scan(tmp_path, plain=False, monkeypatch=monkeypatch)
    slow = _scan(tmp_path, plain=True, monkeypatch=monkeypatch)
    for name, profile in fast["profiles"].items():  # type: ignore[attr-defined]
        other = slow["profiles"][name]  # type: ignore[index]
        assert profile.arrow_type == other.arrow_type
        assert (profile.count, profile.nulls, profile.min, profile.max) == (
            other.count,
            other.nulls,
            other.min,
            other.max,
        )
        assert profile.items.counts == other.items.counts
        assert (profile.items.exact, profile.items.error) == (other.items.exact, other.items.error)
        assert np.array_equal(profile.distinct.hashes, other.distinct.hashes)
    for group in ("features", "label", "extra", "id"):
        a, b = fast["hashes"].arrays.get(group), slow["hashes"].arrays.get(group)  # type: ignore[attr-defined]
        assert (a is None and b is None) or np.array_equal(a, b)
    assert fast["sample"].equals(slow["sample"])  # type: ignore[attr-defined]
    assert fast["sample"].schema.field("low").type == pa.string()  # type: ignore[attr-defined]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_dictionary_array_hashes_and_counts_like_its_values(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = rng.choice(["a", "b", "", "ü", None], 300).tolist()
    encoded = pa.array(values).dictionary_encode()
    for array in (encoded, encoded.slice(17, 200), pa.chunked_array([encoded, encoded[:5]])):
        plain = (
            array.dictionary_decode()
            if isinstance(array, pa.Array)
            else pa.chunked_array([c.dictionary_decode() for c in array.chunks])
        )
        assert np.array_equal(hash_array(array, seed=11), hash_array(plain, seed=11))
    present = encoded.filter(encoded.is_valid())
    items, counts = dictionary_counts(present)
    got = dict(zip(items.to_pylist(), counts.to_pylist(), strict=True))
    want = {v: values.count(v) for v in set(values) if v is not None}
    assert got == want


def test_small_row_groups_are_read_decoded(tmp_path: Path) -> None:
    table = _texts(4_000, seed=1)
    for size, expected in [(1_000, set()), (BATCH_SIZE, {"low", "many", "common"})]:
        pq.write_table(table, tmp_path / "t.parquet", row_group_size=size)
        spec = parse_spec(
            b"version: 1\nsystem: {name: t}\ndatasets:\n  train: {path: t.parquet}\n",
            base_dir=tmp_path,
        )
        assert dictionary_columns(open_inputs(spec)["train"]) == expected
