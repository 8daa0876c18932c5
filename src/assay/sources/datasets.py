"""Datasets as streams of Arrow record batches, from files or in-memory tables.

A :class:`Dataset` never needs the whole table in memory: checks and profiles read it batch by
batch through :meth:`Dataset.batches`. Opening a dataset checks, before any audit work, that
it can be read at all — the file exists, parses (CSV rows are not ragged, text is UTF-8), and
has rows — and raises :class:`InputError` naming the file, the line and the fix if not.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.csv as pacsv

from assay.errors import (
    DATA_CONVERSION,
    DATA_EMPTY,
    DATA_NOT_FOUND,
    DATA_NOT_UTF8,
    DATA_RAGGED,
    DATA_UNREADABLE,
    InputError,
)
from assay.sources.digests import Algorithm, Digests, file_sha256, wanted_digests
from assay.sources.readers import (
    BATCH_SIZE,
    CsvReader,
    IpcReader,
    ParquetReader,
    Reader,
    TableReader,
)
from assay.spec.models import DatasetSchema, DatasetSpec, Spec

__all__ = ["Dataset", "file_sha256", "open_dataset", "schema_fingerprint"]

if TYPE_CHECKING:  # pyarrow.dataset imports pandas (0.15 s): only CSV files need it
    import pyarrow.dataset as pads

_SUFFIX_FORMATS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".tsv": "csv",
    ".arrow": "arrow",
    ".feather": "arrow",
    ".ipc": "arrow",
}
_ROW = re.compile(r"Row #(\d+)")
_COLUMN = re.compile(r"CSV column #(\d+)")
_CONVERSION = re.compile(r"conversion error to (\w+): invalid value '(.*)'")


@dataclass(frozen=True)
class Dataset:
    """A named, opened dataset: its file fingerprint, row count and Arrow schema."""

    name: str
    role: str
    spec: DatasetSpec
    path: Path | None
    format: str
    rows: int
    digests: Digests
    size: int  # the file's bytes (of the Arrow IPC stream for an in-memory table)
    schema: pa.Schema
    reader: Reader
    algorithm: Algorithm = "blake3"  # the spec's `fingerprint:`

    @property
    def digest(self) -> str:
        """The file's fingerprint in the spec's algorithm (hashed in a background thread
        while the audit reads the data; see :mod:`assay.sources.digests`)."""
        return self.digests.get(self.algorithm)

    @property
    def sha256(self) -> str:
        """The file's SHA-256 (started at open when the spec pins or traces files by it)."""
        return self.digests.get("sha256")

    @property
    def blake3(self) -> str:
        return self.digests.get("blake3")

    @property
    def columns(self) -> list[str]:
        return list(self.schema.names)

    @property
    def label(self) -> str:
        """How messages name this dataset: its path, or ``<in-memory NAME>``."""
        return str(self.path) if self.path else f"<in-memory {self.name}>"

    def batches(self, columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
        """Stream the dataset's rows (optionally only ``columns``) as record batches."""
        yield from self.reader(self.columns if columns is None else columns, None)

    def fingerprint(self) -> dict[str, Any]:
        """What the run records about this input."""
        return {
            "name": self.name,
            "role": self.role,
            "path": str(self.path) if self.path else None,
            "format": self.format,
            **self.digests.known(),
            "bytes": self.size,
            "rows": self.rows,
            "columns": len(self.columns),
            "schema_fingerprint": schema_fingerprint(self.schema),
        }


def schema_fingerprint(schema: pa.Schema) -> str:
    """sha256 of the column names and Arrow types, in order (not of metadata)."""
    text = "\n".join(f"{f.name}:{f.type}" for f in schema)
    return hashlib.sha256(text.encode()).hexdigest()


def open_dataset(spec: Spec, name: str) -> Dataset:
    """Open dataset ``name`` of ``spec`` and check that it can be read; see the module doc."""
    ds_spec = spec.datasets[name]
    role = spec.role_of(name)
    if ds_spec.data is not None:
        return _open_table(name, role, ds_spec, spec)
    if ds_spec.path is None:
        raise InputError(
            f"{spec.where('datasets', name)}: dataset {name!r} has no `path:`. "
            "Add the path of a Parquet, CSV or Arrow file."
        )
    path = spec.resolve(ds_spec.path)
    if not path.exists():
        raise InputError(
            DATA_NOT_FOUND.format(
                path=spec.source or "spec",
                line=spec.line_of("datasets", name, "path") or 1,
                dataset=name,
                file=path,
                fix="Fix the path (relative paths start at the spec's folder) or create the file.",
            )
        )
    if path.is_dir():
        raise InputError(f"{path}: dataset {name!r} is a folder. Name one file.")
    fmt = ds_spec.format or _SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(
            f"{spec.where('datasets', name, 'path')}: cannot tell the format of {path} from its "
            "suffix. Add `format: parquet`, `format: csv` or `format: arrow`."
        )
    if not os.access(path, os.R_OK):
        raise InputError(
            f"{path}: cannot read dataset {name!r} (permission denied). Check its permissions."
        )
    schema, rows = _validated(path, fmt, ds_spec, name)
    if rows == 0:
        raise InputError(DATA_EMPTY.format(file=path, dataset=name))
    reader: Reader = (
        ParquetReader(str(path))
        if fmt == "parquet"
        else IpcReader(str(path))
        if fmt == "arrow"
        else CsvReader(str(path), ds_spec, name)
    )
    # Hashed on background threads while the audit runs (see assay.sources.digests).
    digests = Digests(path, wanted_digests(spec, ds_spec))
    size = path.stat().st_size
    return Dataset(
        name, role, ds_spec, path, fmt, rows, digests, size, schema, reader, spec.fingerprint
    )


def _open_table(name: str, role: str, ds_spec: DatasetSpec, spec: Spec) -> Dataset:
    table = as_arrow_table(ds_spec.data, name)
    if table.num_rows == 0:
        raise InputError(DATA_EMPTY.format(file=f"<in-memory {name}>", dataset=name))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    buffer = sink.getvalue()
    return Dataset(
        name,
        role,
        ds_spec,
        None,
        "memory",
        table.num_rows,
        Digests(memoryview(buffer), wanted_digests(spec, ds_spec)),
        buffer.size,
        table.schema,
        TableReader(table),
        spec.fingerprint,
    )


def as_arrow_table(data: Any, name: str = "data") -> pa.Table:
    """An Arrow table from a pandas or polars DataFrame, or an Arrow table or batch."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    module = type(data).__module__.split(".")[0]
    if module == "pandas":
        return pa.Table.from_pandas(data, preserve_index=False)
    if module == "polars":
        return data.to_arrow()
    raise InputError(
        f"dataset {name!r}: cannot use a {type(data).__name__} as a table. "
        "Pass a pandas or polars DataFrame, or a pyarrow Table."
    )


def _open_csv(path: Path, ds_spec: DatasetSpec, name: str) -> pads.Dataset:
    import pyarrow.dataset as pads

    try:
        return pads.dataset(path, format=_csv_format(ds_spec, path))
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        raise _read_error(exc, path, "csv", name) from None


def _csv_format(ds_spec: DatasetSpec, path: Path) -> pads.CsvFileFormat:
    delimiter = (
        "\t" if path.suffix.lower() == ".tsv" and ds_spec.delimiter == "," else ds_spec.delimiter
    )
    column_types: dict[str, pa.DataType] = {}
    if isinstance(ds_spec.schema_, DatasetSchema):
        for column, declared in ds_spec.schema_.columns.items():
            if declared.type == "string":  # keep codes such as zip codes as text
                column_types[column] = pa.string()
    import pyarrow.dataset as pads

    return pads.CsvFileFormat(
        parse_options=pacsv.ParseOptions(delimiter=delimiter),
        convert_options=pacsv.ConvertOptions(column_types=column_types, strings_can_be_null=True),
        read_options=pacsv.ReadOptions(block_size=1 << 20),
    )


def _validated(path: Path, fmt: str, ds_spec: DatasetSpec, name: str) -> tuple[pa.Schema, int]:
    """Schema and row count from the file's footer; a CSV is read in full so a bad row
    anywhere is found now, not mid-audit."""
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            with pq.ParquetFile(path) as pf:
                return pf.schema_arrow, int(pf.metadata.num_rows)
        if fmt == "arrow":
            with pa.memory_map(str(path)) as source:
                ipc = pa.ipc.open_file(source)
                rows = sum(ipc.get_batch(i).num_rows for i in range(ipc.num_record_batches))
                return ipc.schema, rows
        arrow = _open_csv(path, ds_spec, name)
        for field in arrow.schema:
            if pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type):
                _raise_not_utf8(path)
        rows = 0
        for batch in arrow.to_batches(batch_size=BATCH_SIZE):
            rows += batch.num_rows
        return arrow.schema, rows
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        raise _read_error(exc, path, fmt, name) from None


def _read_error(exc: Exception, path: Path, fmt: str, name: str) -> InputError:
    text = str(exc)
    if fmt == "csv":
        if "Expected" in text and "columns, got" in text:
            return _ragged_error(path, text)
        if "invalid UTF8" in text:
            _raise_not_utf8(path)
        conversion = _CONVERSION.search(text)
        column = _COLUMN.search(text)
        if conversion and column:
            with path.open("rb") as fh:
                header = _fields(fh.readline())
            index = int(column.group(1))
            col_name = header[index] if index < len(header) else f"#{index}"
            msg = DATA_CONVERSION.format(
                file=path, column=col_name, type=conversion.group(1), value=conversion.group(2)
            )
            row = _ROW.search(text)
            return InputError(
                msg.replace(f"{path}:", f"{path}, line {row.group(1)}:", 1) if row else msg
            )
    problem = text.split("\n")[0]
    fix = {
        "parquet": "Check that it is a Parquet file, or set `format:` to what it is.",
        "arrow": "Check that it is an Arrow IPC (Feather v2) file, or set `format:` to what it is.",
        "csv": "Check that it is a delimited text file, or set `format:` to what it is.",
    }[fmt]
    return InputError(
        DATA_UNREADABLE.format(file=path, dataset=name, format=fmt, problem=problem, fix=fix)
    )


def _ragged_error(path: Path, text: str) -> InputError:
    with path.open("rb") as fh:
        header = fh.readline()
        expected = len(_fields(header))
        for number, line in enumerate(fh, start=2):
            got = len(_fields(line))
            if got != expected and line.strip():
                shown = line.decode("utf-8", "replace").rstrip("\r\n")
                return InputError(
                    DATA_RAGGED.format(
                        file=path, line=number, expected=expected, got=got, text=shown[:120]
                    )
                )
    row = _ROW.search(text)
    return InputError(
        DATA_RAGGED.format(
            file=path, line=row.group(1) if row else "?", expected="?", got="?", text=text[:120]
        )
    )


def _fields(line: bytes) -> list[str]:
    text = line.decode("utf-8", "replace").rstrip("\r\n")
    delimiter = "," if text.count(",") >= text.count("\t") else "\t"
    return next(csv.reader([text], delimiter=delimiter), [])


def _raise_not_utf8(path: Path) -> None:
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as err:
                bad = line[max(0, err.start - 10) : err.end + 10]
                raise InputError(DATA_NOT_UTF8.format(file=path, line=number, text=bad)) from None
    raise InputError(DATA_NOT_UTF8.format(file=path, line="?", text=b""))
