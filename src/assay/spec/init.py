"""``assay init``: a commented starter ``assay.yaml`` with a schema pinned from the data."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from assay._files import atomic_write
from assay.errors import SPEC_EXISTS, InputError, SpecError
from assay.profiles.engine import ScanOptions, scan
from assay.profiles.facts import TableFacts
from assay.profiles.infer import infer_schema
from assay.sources.datasets import open_dataset
from assay.spec.loader import parse_spec, spec_from_mapping
from assay.spec.models import ColumnSchema

_TEMPLATE = """\
# assay.yaml: what Assay audits. Written by `assay init` on {today}.
# Every setting is described in docs/spec.md. Audit with `assay audit`; the exit code
# is 0 when the system may launch, 1 when the gate failed, 2 on bad input.
version: 1

system:
  name: {name}
  version: "0.1.0"

# Every random step of the audit (sampling, bootstrap, folds) derives from this seed.
seed: 0

# Who answers for each domain's findings; `default` covers the domains not named.
owners:
  default: unassigned
  # integrity: data-platform@example.com

datasets:
  train:
    path: {path}
{roles}
    # Schema pinned from {path} ({rows} rows) by `assay init`. It is the contract the data
    # must keep: edit types, ranges and allowed values to what they must be, not what they were.
    schema:
      extra_columns: warn
      columns:
{columns}
  # More datasets by role (train, test, reference, current) or any name:
  # test:
  #   path: data/test.parquet
{test_target}  #   schema: {{infer: train}}   # hold it to the schema inferred from train

# model:                 # the audited model (used by the model-validation checks)
#   path: model.skops
# documents: documents/  # model card, datasheet, runbooks (governance checks)

policy:
  fail_on: blocker       # the gate fails on a failed finding at or above this severity

# Per-check settings, by check id (see docs/checks.md):
# checks:
#   integrity.missing_values:
#     thresholds: {{missing_ratio: {{warn: 0.02, fail: 0.1}}}}
#     owner: data-platform@example.com
# Accepted findings; they count again after they expire:
# waivers:
#   - check: integrity.duplicate_rows
#     subject: train
#     reason: Repeated rows are real repeat customers.
#     approver: jane.doe@example.com
#     expires: 2027-03-31
"""


def starter_spec(
    data: Path,
    *,
    target: str | None = None,
    sensitive: list[str] | None = None,
    output: Path,
    name: str | None = None,
) -> str:
    """The text of a starter spec for ``data``; raises InputError if a named column is absent."""
    sensitive = sensitive or []
    output_dir = output.resolve().parent
    rel = os.path.relpath(data.resolve(), output_dir)
    probe = spec_from_mapping(
        {
            "version": 1,
            "system": {"name": "init"},
            "datasets": {"train": {"path": str(data.resolve())}},
        }
    )
    ds = open_dataset(probe, "train")
    for option, column in [("--target", target), *[("--sensitive", s) for s in sensitive]]:
        if column is not None and column not in ds.columns:
            raise InputError(
                f"{data}: {option} names column {column!r}, which the file lacks. "
                f"Columns that exist: {', '.join(ds.columns)}."
            )
    schema = infer_schema(
        ds, TableFacts({"train": ds}, scan({"train": ds}, ScanOptions(row_hashes=False)))
    )
    roles = []
    if target:
        roles.append(f"    target: {_scalar(target)}")
        roles.append("    # positive_label: 1    # the favourable outcome, for fairness checks")
    if sensitive:
        roles.append("    sensitive:            # protected attributes, for fairness checks")
        for column in sensitive:
            roles.append(f"      - column: {_scalar(column)}")
            roles.append("        # privileged: ...  # the reference group, if the law names one")
    roles.append("    # id: customer_id     # a unique row id, checked for duplicates")
    text = _TEMPLATE.format(
        today=date.today().isoformat(),
        name=_scalar(name or output_dir.name or "my-model"),
        path=_scalar(rel),
        rows=f"{ds.rows:,}",
        roles="\n".join(roles),
        columns="\n".join(_column_line(c, s) for c, s in schema.columns.items()),
        test_target=f"  #   target: {_scalar(target)}\n" if target else "",
    )
    parse_spec(text.encode(), source=output, base_dir=output_dir)  # what init writes must load
    return text


def write_starter_spec(text: str, output: Path, *, force: bool = False) -> None:
    """Write ``text`` to ``output`` atomically; an existing file is kept unless ``force``."""
    try:
        atomic_write(output, text.encode("utf-8"), overwrite=force)
    except FileExistsError:
        raise SpecError(SPEC_EXISTS.format(path=output)) from None
    except OSError as exc:
        raise SpecError(
            f"{output}: cannot write the spec ({exc.strerror}). Choose another path with -o."
        ) from None


def _column_line(name: str, column: ColumnSchema) -> str:
    fields: dict[str, Any] = {"type": column.type, "nullable": column.nullable}
    if column.min is not None:
        fields["min"] = _number(column.min)
    if column.max is not None:
        fields["max"] = _number(column.max)
    if column.allowed is not None:
        fields["allowed"] = column.allowed
    if column.unique:
        fields["unique"] = True
    body = yaml.safe_dump(fields, default_flow_style=True, sort_keys=False, width=10_000).strip()
    return f"        {_scalar(name)}: {body}"


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _scalar(value: str) -> str:
    """``value`` as a YAML scalar, quoted when YAML would read it as something else."""
    return (
        yaml.safe_dump(value, default_flow_style=True)
        .strip()
        .removesuffix("\n...")
        .removesuffix("...")
        .strip()
    )
