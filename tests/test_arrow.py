"""assay._arrow: Arrow ↔ NumPy conversions without pyarrow's pandas integration."""

from __future__ import annotations

import decimal
import subprocess
import sys
import textwrap

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from assay._arrow import (
    bool_array,
    bools,
    floats,
    floats_or_nan,
    int64_array,
    integer_array,
    integers_or,
    strings,
)


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        (pa.array([1, -2, 3], pa.int8()), [1.0, -2.0, 3.0]),
        (pa.array([2**40, 7], pa.uint64()), [2.0**40, 7.0]),
        (pa.array([0.5, -1.25], pa.float32()), [0.5, -1.25]),
        (pa.array([True, False, True]), [1.0, 0.0, 1.0]),
        (pa.array([decimal.Decimal("1.50")], pa.decimal128(5, 2)), [1.5]),
        (pa.array([1.0], pa.float16()), [1.0]),
        (pa.chunked_array([[1.0, 2.0], [], [3.0]]), [1.0, 2.0, 3.0]),
        (pa.array([1.0, 2.0, 3.0, 4.0]).slice(1, 2), [2.0, 3.0]),
        (pa.chunked_array([], pa.float64()), []),
    ],
)
def test_floats_match_to_numpy(array: pa.Array | pa.ChunkedArray, expected: list[float]) -> None:
    out = floats(array)
    assert out.dtype == np.float64 and out.flags.writeable
    np.testing.assert_array_equal(out, np.array(expected, dtype=np.float64))
    if len(array):
        np.testing.assert_array_equal(
            out, np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.float64)
        )


def test_floats_copy_never_aliases_arrow_memory() -> None:
    source = pa.array([1.0, 2.0])
    out = floats(source)
    out[0] = 9.0
    assert source.to_pylist() == [1.0, 2.0]


def test_floats_refuse_nulls_and_floats_or_nan_fills_them() -> None:
    array = pa.chunked_array([[1.0, None], [3.0]])
    with pytest.raises(ValueError, match="1 null"):
        floats(array)
    np.testing.assert_array_equal(floats_or_nan(array), [1.0, np.nan, 3.0])
    with pytest.raises(ValueError, match="drop the nulls"):
        bools(pa.array([True, None]))


def test_bools_follow_bit_offsets_across_chunks() -> None:
    values = [bool(v) for v in np.random.default_rng(3).integers(0, 2, 77)]
    chunked = pa.chunked_array([pa.array(values[:30]).slice(5), pa.array(values[30:])])
    np.testing.assert_array_equal(bools(chunked), np.array(values[5:], dtype=bool))
    assert bools(pa.array([], pa.bool_())).size == 0


def test_numpy_to_arrow_round_trips() -> None:
    rows = np.array([4, 0, 2**40])
    assert int64_array(rows).to_pylist() == [4, 0, 2**40]
    mask = np.random.default_rng(5).integers(0, 2, 19).astype(bool)
    assert bool_array(mask).to_pylist() == mask.tolist()
    assert pc.filter(pa.array(range(19)), bool_array(mask)).to_pylist() == list(
        np.flatnonzero(mask)
    )
    texts = ["", "héllo", "a\x00b", "日本"]
    built = strings(texts)
    built.validate(full=True)
    assert built.to_pylist() == texts and built.type == pa.string()
    assert strings([]).to_pylist() == []


def test_the_conversions_and_the_profile_pass_never_import_pandas(tmp_path: object) -> None:
    """pyarrow imports pandas on its first NumPy conversion; the data path must not."""
    code = textwrap.dedent(
        """
        import sys
        import numpy as np
        import pyarrow as pa
        import pyarrow.parquet as pq
        from assay._arrow import bool_array, bools, floats, floats_or_nan, int64_array, strings
        from assay import profile

        columns = {
            "x": pa.Array.from_buffers(pa.float64(), 3, [None, pa.py_buffer(np.arange(3.0))]),
            "s": strings(["a", "b", "a"]),
        }
        table = pa.Table.from_arrays(list(columns.values()), names=list(columns))
        floats(table.column("x")), floats_or_nan(table.column("x"))
        bools(bool_array(np.array([True, False]))), int64_array([1])
        path = sys.argv[1] + "/t.parquet"
        pq.write_table(table, path)
        result = profile(path)
        assert result.rows == 3, result.rows
        # Text with nulls, read dictionary-encoded (written by the test, outside this process).
        # ... and 8-bit integers, counted by bit pattern.
        result = profile(sys.argv[1] + "/nulls.parquet")
        assert result["s"].nulls == 20, result["s"].nulls
        assert dict(result["small"].items.counts) == {-3: 10, 0: 10, 1: 20, 2: 10}
        print("pandas" in sys.modules)
        """
    )
    pq.write_table(
        pa.table(
            {
                "s": pa.array(["a", None, "b", None, "a"] * 10),
                "x": list(range(50)),
                "small": pa.array([-3, 1, 2, 1, 0] * 10, pa.int8()),
            }
        ),
        f"{tmp_path}/nulls.parquet",
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_floats_without_copy_view_arrows_float64_memory_read_only() -> None:
    source = pa.array([1.5, 2.5, 3.5])
    view = floats(source, copy=False)
    assert not view.flags.writeable and view.tolist() == [1.5, 2.5, 3.5]
    widened = floats(pa.array([1, 2], pa.int16()), copy=False)  # a conversion is a copy anyway
    assert widened.dtype == np.float64 and widened.tolist() == [1.0, 2.0]


@pytest.mark.parametrize("kind", [pa.int8(), pa.int32(), pa.uint16(), pa.int64()])
def test_integers_or_fills_nulls_from_the_buffers(kind: pa.DataType) -> None:
    whole = pa.array([3, None, 1, 2, None, 0, 5], type=kind)
    for array in (whole, whole.slice(1, 5), whole.slice(2, 3)):
        expected = [99 if v is None else v for v in array.to_pylist()]
        assert integers_or(array, 99).tolist() == expected
    built = integer_array(np.array([5, 0, 3]), kind)
    built.validate(full=True)
    assert built.type == kind and built.to_pylist() == [5, 0, 3]
