"""``assay mask``: one streaming pass, every format, keyed hashing, atomic output, bad input."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from _cli_support import error_of, invoke
from assay.privacy.mask import KEY_MISSING

KEY = "0123456789abcdef0123456789abcdef"


def table(n: int = 3000) -> pa.Table:
    notes = [f"order {i} shipped" for i in range(n)]
    notes[5] = "mail jo@example.com"
    notes[n - 1] = "SSN 123-45-6780"
    return pa.table(
        {
            "id": list(range(n)),
            "notes": notes,
            "phone": ["212-555-0199" if i % 2 else None for i in range(n)],
            "score": [i / n for i in range(n)],
        }
    )


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "data.parquet"
    pq.write_table(table(), path, row_group_size=1000)  # three row groups: several batches
    return path


def test_redact_every_text_column_by_default(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    result = invoke("mask", data, "-o", out)
    assert result.exit_code == 0, result.stderr
    masked = pq.read_table(out)
    original = table()
    assert masked.schema == original.schema
    assert masked.column("id").equals(original.column("id"))
    notes = masked.column("notes").to_pylist()
    assert notes[5] == "mail [EMAIL]" and notes[-1] == "SSN [SSN]" and notes[0] == "order 0 shipped"
    assert set(masked.column("phone").to_pylist()) == {None, "[PHONE]"}
    assert "wrote" in result.stdout and "jo@example.com" not in result.stdout


def test_hash_is_keyed_and_joins_across_files(data: Path, tmp_path: Path) -> None:
    env = {"ASSAY_MASK_KEY": KEY}
    a, b, c = tmp_path / "a.parquet", tmp_path / "b.parquet", tmp_path / "c.parquet"
    assert invoke("mask", data, "-o", a, "--method", "hash", env=env).exit_code == 0
    assert invoke("mask", data, "-o", b, "--method", "hash", env=env).exit_code == 0
    key_file = tmp_path / "key"
    key_file.write_text("another-key-of-enough-length\n")
    assert invoke("mask", data, "-o", c, "--method", "hash", "--key-file", key_file).exit_code == 0
    phone_a = pq.read_table(a).column("phone")[1].as_py()
    assert phone_a.startswith("<PHONE:") and phone_a == pq.read_table(b).column("phone")[1].as_py()
    assert phone_a != pq.read_table(c).column("phone")[1].as_py()


def test_hash_without_a_key_exits_2_naming_the_fix(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    message = error_of(invoke("mask", data, "-o", out, "--method", "hash"))
    assert message == " ".join(KEY_MISSING.format(env="ASSAY_MASK_KEY").split())
    assert not out.exists()


@pytest.mark.parametrize("suffix", [".csv", ".arrow", ".parquet"])
def test_formats_and_columns(data: Path, tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"out{suffix}"
    result = invoke("mask", data, "-o", out, "--columns", "notes", "--method", "partial")
    assert result.exit_code == 0, result.stderr
    if suffix == ".csv":
        masked = pacsv.read_csv(out)
    elif suffix == ".arrow":
        masked = pa.ipc.open_file(out).read_all()
    else:
        masked = pq.read_table(out)
    assert masked.column("notes")[5].as_py() == "mail j***@e***.com"
    assert masked.column("phone")[1].as_py() == "212-555-0199"  # not in --columns


def test_csv_input_is_read_as_text(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("id,ssn\n1,123456780\n2,234567890\n")
    out = tmp_path / "out.csv"
    assert invoke("mask", src, "-o", out).exit_code == 0
    assert out.read_text().splitlines()[1:] == ['"1","[SSN]"', '"2","[SSN]"']  # an ssn column


def test_a_failure_leaves_no_output(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import assay.privacy

    out = tmp_path / "out.parquet"
    out.write_bytes(b"previous")
    calls = 0
    real = assay.privacy.mask_array

    def failing(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 2:  # mid-file: after the first column was masked
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(assay.privacy, "mask_array", failing)
    message = error_of(invoke("mask", data, "-o", out))
    assert (
        message == f"{out}: cannot write the masked copy (No space left on device). "
        "Choose a writable path with -o."
    )
    assert out.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.parquet", "out.parquet"]


def test_bad_input(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    assert error_of(invoke("mask", data, "-o", out, "--columns", "nope")) == (
        f"{data}: --columns names 'nope', which the table lacks. Columns: id, notes, phone, score."
    )
    assert "holds double values" in error_of(invoke("mask", data, "-o", out, "--columns", "score"))
    assert error_of(invoke("mask", tmp_path / "none.parquet", "-o", out)) == (
        f"{tmp_path / 'none.parquet'}: no such file. Check the path of the table to mask."
    )
    garbage = tmp_path / "bad.parquet"
    garbage.write_text("not parquet")
    assert "cannot read dataset" in error_of(invoke("mask", garbage, "-o", out))
    assert "not a masking method" in error_of(invoke("mask", data, "-o", out, "--method", "x"))
    assert "not an output format" in error_of(invoke("mask", data, "-o", out, "--format", "xml"))
    assert "names the input itself" in error_of(invoke("mask", data, "-o", data))
    assert not out.exists()
