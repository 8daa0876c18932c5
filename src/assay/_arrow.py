"""Arrow ↔ NumPy conversions that never wake pyarrow's pandas integration.

pyarrow imports pandas (and dateutil) the first time it converts anything to or from NumPy:
``Array.to_numpy`` looks up pandas' missing-value sentinels, and ``pa.array`` checks whether
its argument is a pandas object before anything else — about 0.15 s of CPU per process (0.3 s
with a cold disk cache), though no pandas object is involved. The profile pass converts every
numeric batch, so these functions move the same data through Arrow's buffers instead: NumPy
arrays via DLPack (``np.from_dlpack``), Arrow arrays via ``pa.Array.from_buffers`` over
NumPy's memory, booleans bit-packed in Arrow's order. Checks that need pandas for a model
still import it; only the data path no longer does.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

HAS_NULLS = "{what}: {nulls} null(s) among {n} values; drop the nulls before converting."


def _chunks(array: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    return list(array.chunks) if isinstance(array, pa.ChunkedArray) else [array]


def floats(array: pa.Array | pa.ChunkedArray, *, copy: bool = True) -> FloatArray:
    """A numeric (or boolean) Arrow array without nulls as a new, writable float64 array —
    or, with ``copy=False``, as a read-only view of Arrow's memory where it already holds
    float64 values in one chunk.

    Integers and floats pass through DLPack; other types (booleans, decimals, half floats)
    are cast to float64 by Arrow first. Dates and timestamps are not converted here: cast
    them to int64 to get days or units since the epoch.
    """
    if array.null_count:
        raise ValueError(HAS_NULLS.format(what="floats()", nulls=array.null_count, n=len(array)))
    kind = array.type
    direct = pa.types.is_integer(kind) or kind in (pa.float32(), pa.float64())
    parts = [
        np.from_dlpack(chunk if direct else pc.cast(chunk, pa.float64()))
        for chunk in _chunks(array)
        if len(chunk)
    ]
    if not parts:
        return np.empty(0, np.float64)
    if len(parts) == 1:
        return np.array(parts[0], dtype=np.float64, copy=copy or None)
    return np.concatenate(parts, dtype=np.float64)


def floats_or_nan(array: pa.Array | pa.ChunkedArray) -> FloatArray:
    """Like :func:`floats`, with NaN where a value is null."""
    if not array.null_count:
        return floats(array)
    out = np.full(len(array), np.nan)
    out[bools(pc.is_valid(array))] = floats(pc.drop_null(array))
    return out


def bools(array: pa.Array | pa.ChunkedArray) -> BoolArray:
    """A boolean Arrow array without nulls as a NumPy bool array."""
    if array.null_count:
        raise ValueError(HAS_NULLS.format(what="bools()", nulls=array.null_count, n=len(array)))
    parts = []
    for chunk in _chunks(array):
        data = chunk.buffers()[1]
        if data is None or not len(chunk):
            continue
        bits = np.unpackbits(np.frombuffer(data, np.uint8), bitorder="little")
        parts.append(bits[chunk.offset : chunk.offset + len(chunk)].view(np.bool_))
    if not parts:
        return np.zeros(0, np.bool_)
    return np.concatenate(parts) if len(parts) > 1 else parts[0].copy()


def integers_or(array: pa.Array, fill: int) -> np.ndarray:
    """An integer Arrow array (dictionary indices) as NumPy, with ``fill`` where it is null:
    from its buffers. (``pc.fill_null(array, fill)`` turns ``fill`` into an Arrow scalar,
    which imports pandas.)"""
    if not array.null_count:
        return np.from_dlpack(array)
    width = array.type.bit_width // 8
    kind = "i" if pa.types.is_signed_integer(array.type) else "u"
    values = np.frombuffer(array.buffers()[1], f"<{kind}{width}", len(array), array.offset * width)
    filled: np.ndarray = np.where(bools(pc.is_valid(array)), values, fill)
    return filled


def int64_array(values: npt.ArrayLike) -> pa.Array:
    """NumPy integers (row numbers for ``take``) as an Arrow int64 array."""
    return integer_array(values, pa.int64())


def integer_array(values: npt.ArrayLike, kind: pa.DataType) -> pa.Array:
    """NumPy integers as an Arrow array of the integer type ``kind`` (no nulls)."""
    width = kind.bit_width // 8
    sign = "i" if pa.types.is_signed_integer(kind) else "u"
    data = np.ascontiguousarray(values, dtype=f"<{sign}{width}")
    return pa.Array.from_buffers(kind, data.size, [None, pa.py_buffer(data)])


def bool_array(values: npt.ArrayLike) -> pa.Array:
    """A NumPy bool array (a ``filter`` mask) as an Arrow boolean array."""
    mask = np.ascontiguousarray(values, dtype=np.bool_)
    packed = np.packbits(mask, bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), mask.size, [None, pa.py_buffer(packed)])


def strings(values: Sequence[str]) -> pa.Array:
    """Python strings as an Arrow string array (UTF-8 bytes and int32 offsets, built here)."""
    encoded = [value.encode() for value in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    data = pa.py_buffer(b"".join(encoded))
    return pa.Array.from_buffers(pa.string(), len(encoded), [None, pa.py_buffer(offsets), data])
