"""``assay mask``: a copy of a table with personal data and secrets masked, in one pass.

The output is written to a temporary file beside it and renamed into place only when every
batch is written: a failure (a bad key, a full disk, an interrupt) leaves no output file,
and an existing one untouched. Methods and key handling: docs/privacy.md.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
import typer

from assay import _console
from assay._cli_base import QuietOption, _guarded, app
from assay._files import TEMP_PREFIX, fsync_dir
from assay.errors import AssayError, InputError

FORMATS = ("parquet", "csv", "arrow")
_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".arrow": "arrow"}
_SUFFIXES |= {".feather": "arrow", ".ipc": "arrow", ".tsv": "csv"}

UNKNOWN_COLUMN = "{file}: --columns names {column!r}, which the table lacks. Columns: {columns}."
NOT_TEXT = (
    "{file}: --columns names {column!r}, which holds {type} values; only text columns can be "
    "masked. Cast it to text upstream, or leave it out."
)
UNKNOWN_METHOD = "--method {method!r} is not a masking method. Use redact, hash or partial."
UNKNOWN_FORMAT = "--format {fmt!r} is not an output format. Use parquet, csv or arrow."
SAME_FILE = "{file}: -o names the input itself. Write the masked copy to another file."
KEY_UNREADABLE = "{file}: cannot read the masking key ({problem}). Check the path with --key-file."
NOT_FOUND = "{file}: no such file. Check the path of the table to mask."
NOT_WRITABLE = "{file}: cannot write the masked copy ({problem}). Choose a writable path with -o."


@app.command("mask")
@_guarded
def mask_command(
    data: Annotated[Path, typer.Argument(help="A Parquet, CSV or Arrow IPC file.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The masked copy to write.")],
    columns: Annotated[
        str | None,
        typer.Option(
            "--columns",
            help="Comma-separated text columns to mask (default: every text column; those "
            "without PII come out unchanged).",
        ),
    ] = None,
    method: Annotated[
        str, typer.Option("--method", help="redact, hash (keyed HMAC) or partial.")
    ] = "redact",
    key_env: Annotated[
        str, typer.Option("--key-env", help="Environment variable holding the hash key.")
    ] = "ASSAY_MASK_KEY",
    key_file: Annotated[
        Path | None, typer.Option("--key-file", help="File holding the hash key.")
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", "-f", help="parquet, csv or arrow (default: from -o's suffix)."),
    ] = None,
    quiet: QuietOption = False,
) -> None:
    """Write a copy of DATA with personal data and secrets masked, in one streaming pass."""
    from assay.privacy import METHODS, as_key

    if method not in METHODS:
        raise AssayError(UNKNOWN_METHOD.format(method=method))
    key = _key(key_env, key_file) if method == "hash" else None
    raw_key = as_key(key, env=key_env) if method == "hash" else None
    out_format = fmt or _SUFFIXES.get(output.suffix.lower())
    ds = _open(data, None)
    out_format = out_format or ds.format
    if out_format not in FORMATS:
        raise AssayError(UNKNOWN_FORMAT.format(fmt=out_format))
    if output.exists() and data.exists() and output.resolve() == data.resolve():
        raise AssayError(SAME_FILE.format(file=output))
    chosen = _columns(ds, columns, data)
    if ds.format == "csv":  # a CSV holds text: read the masked columns as text, as written
        ds = _open(data, chosen)
    counts = _write(ds, chosen, output, out_format, method, raw_key)
    if not quiet:
        for column in chosen:
            found = counts.get(column)
            if found:
                kinds = ", ".join(f"{k} {n:,}" for k, n in sorted(found.items()))
                _console.out.print(f"{column}: masked {sum(found.values()):,} ({kinds})")
    total = sum(sum(c.values()) for c in counts.values())
    _console.out.print(
        f"wrote {output} ({ds.rows:,} rows; {total:,} entities masked with {method} in "
        f"{len([c for c in chosen if counts.get(c)])} of {len(chosen)} text columns)"
    )


def _key(env: str, key_file: Path | None) -> bytes | None:
    if key_file is not None:
        try:
            return key_file.read_bytes().strip()
        except OSError as exc:
            raise AssayError(
                KEY_UNREADABLE.format(file=key_file, problem=exc.strerror or exc)
            ) from None
    value = os.environ.get(env)
    return value.encode() if value else None


def _open(data: Path, text_columns: list[str] | None) -> Any:
    from assay.sources import open_dataset
    from assay.spec.loader import spec_from_mapping

    if not data.exists():
        raise InputError(NOT_FOUND.format(file=data))
    entry: dict[str, Any] = {"path": str(data.resolve())}
    if text_columns:
        entry["schema"] = {
            "columns": {c: {"type": "string"} for c in text_columns},
            "extra_columns": "allow",
        }
    spec = spec_from_mapping(
        {"version": 1, "system": {"name": "mask"}, "datasets": {"data": entry}}
    )
    try:
        return open_dataset(spec, "data")
    except InputError as exc:  # name the file as given, not the spec entry made for it
        raise InputError(str(exc).replace(str(data.resolve()), str(data))) from None


def _columns(ds: Any, columns: str | None, data: Path) -> list[str]:
    from assay.privacy import is_text

    if columns is None:
        if ds.format == "csv":
            return list(ds.columns)
        return [f.name for f in ds.schema if is_text(f.type)]
    chosen = [c.strip() for c in columns.split(",") if c.strip()]
    listed = ", ".join(ds.columns)
    for column in chosen:
        if column not in ds.columns:
            raise AssayError(UNKNOWN_COLUMN.format(file=data, column=column, columns=listed))
        type_ = ds.schema.field(column).type
        if ds.format != "csv" and not is_text(type_):
            raise AssayError(NOT_TEXT.format(file=data, column=column, type=type_))
    return chosen


def _write(
    ds: Any, chosen: list[str], output: Path, fmt: str, method: Any, key: bytes | None
) -> dict[str, Counter[str]]:
    """Stream ``ds`` into a temporary file beside ``output``, then rename it into place."""
    from assay.privacy import column_context, mask_array

    schema = pa.schema(
        [
            f.with_type(f.type.value_type)
            if f.name in chosen and pa.types.is_dictionary(f.type)
            else f
            for f in ds.schema
        ],
        metadata=ds.schema.metadata,
    )
    counts: dict[str, Counter[str]] = {c: Counter() for c in chosen}
    contexts = {c: column_context(c) for c in chosen}
    folder = output.parent if str(output.parent) else Path()
    try:
        fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=output.suffix, dir=folder)
    except OSError as exc:
        raise AssayError(NOT_WRITABLE.format(file=output, problem=exc.strerror or exc)) from None
    os.close(fd)
    tmp = Path(name)
    try:
        with _writer(tmp, fmt, schema) as writer:
            for batch in ds.batches():
                arrays = []
                for field, array in zip(batch.schema, batch.columns, strict=True):
                    if field.name in chosen:
                        array, found = mask_array(array, method, key, context=contexts[field.name])
                        counts[field.name].update(found)
                    arrays.append(array)
                writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=schema))
        with tmp.open("rb+") as handle:
            os.fsync(handle.fileno())
        tmp.replace(output)
        fsync_dir(folder)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise AssayError(NOT_WRITABLE.format(file=output, problem=exc.strerror or exc)) from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return counts


@contextlib.contextmanager
def _writer(path: Path, fmt: str, schema: pa.Schema) -> Any:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        with pq.ParquetWriter(str(path), schema) as writer:
            yield writer
    elif fmt == "csv":
        import pyarrow.csv as pacsv

        with pacsv.CSVWriter(str(path), schema) as writer:
            yield writer
    else:
        with pa.ipc.new_file(str(path), schema) as writer:
            yield writer
