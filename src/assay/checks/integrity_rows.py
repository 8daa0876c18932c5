"""Row-level integrity checks: duplicate rows, repeated ids and train/test leakage.

Counts that need the whole table at once are exact: the context's SQL engine computes them
over the datasets' Arrow scans. Evidence names rows by number (0-based, in file order) and
never shows row values, except ids and class labels.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from assay.checks._context import Context
from assay.checks._registry import CheckParams, Finding, Severity, Status, Threshold, check
from assay.checks.integrity_common import (
    absent_column,
    column_subject,
    graded,
    is_missing,
    listing,
    pair_subject,
    pct,
    plain,
    plural,
    show,
    skipped,
)
from assay.profiles.rows import GroupFacts

DUPLICATES_NONE = "{name}: no row repeats another on {columns}."
DUPLICATES_FOUND = (
    "{name}: {extra:,} of {rows:,} rows ({ratio}) repeat an earlier row on {columns}, "
    "in {groups}; the largest group has {largest:,} rows."
)
IDS_UNIQUE = "{subject}: all {present:,} ids are unique."
IDS_REPEATED = "{subject}: {ids} ({extra:,} extra rows, {ratio}); e.g. {examples}."


class ColumnsOption(BaseModel):
    """Restrict the comparison to these columns (default: see the check)."""

    model_config = ConfigDict(extra="forbid")

    columns: list[str] | None = Field(default=None, min_length=1)


def _columns_option(params: CheckParams) -> list[str] | None:
    options = params.options
    return options.columns if isinstance(options, ColumnsOption) else None


def _absent(
    params: CheckParams, subject: str, absent: list[str], where: str, evidence: tuple[str, ...]
) -> Finding:
    """The ``error`` finding for ``params: columns:`` naming columns the data lacks."""
    return params.finding(
        subject,
        status=Status.ERROR,
        message=f"{subject}: params.columns of {params.info.id} names {listing(absent)}, "
        f"which {where} lacks.",
        remediation=f"Fix `checks.{params.info.id}.params.columns` in assay.yaml.",
        evidence=evidence,
    )


# integrity.duplicate_rows ------------------------------------------------------------------


@check(
    "integrity.duplicate_rows",
    domain="integrity",
    title="Duplicate rows",
    severity=Severity.MINOR,
    thresholds=(Threshold("duplicate_row_ratio", warn=0.01, fail=0.1),),
    options=ColumnsOption,
    remediation="Deduplicate at the source or in the pipeline (the evidence gives the first row "
    "numbers of the largest groups), or explain why repeated rows are genuine.",
)
def duplicate_rows(ctx: Context, params: CheckParams) -> list[Finding]:
    """Rows identical to an earlier row, on every column but the id (or on ``params.columns``).

    The id column is left out by default: a record copied under a fresh surrogate key is
    still a duplicate.
    """
    chosen = _columns_option(params)
    findings = []
    for name, ds in ctx.datasets.items():
        manifest = ctx.manifest(name)
        if chosen is not None:
            absent = [c for c in chosen if c not in ds.columns]
            if absent:
                findings.append(_absent(params, name, absent, name, (manifest,)))
                continue
            columns = chosen
        else:
            columns = [c for c in ds.columns if c != ds.spec.id] or ds.columns
        facts = ctx.facts.duplicates(ds, columns)
        ratio = facts.extra_rows / facts.rows
        metrics = {
            "duplicate_row_count": facts.extra_rows,
            "duplicate_row_ratio": ratio,
            "duplicate_groups": facts.groups,
        }
        described = _columns_text(columns, ds.columns)
        evidence: tuple[str, ...] = (manifest,)
        if facts.groups:
            artefact = {"dataset": name, "columns": columns, **_group_json(facts)}
            evidence += (ctx.add_artefact(f"integrity.duplicate_rows/{name}.json", artefact),)
            message = DUPLICATES_FOUND.format(
                name=name,
                extra=facts.extra_rows,
                rows=facts.rows,
                ratio=pct(ratio),
                columns=described,
                groups=plural(facts.groups, "group"),
                largest=facts.examples[0]["count"],
            )
        else:
            message = DUPLICATES_NONE.format(name=name, columns=described)
        findings.append(
            params.judge(name, "duplicate_row_ratio", metrics, message=message, evidence=evidence)
        )
    return findings


def _columns_text(columns: list[str], all_columns: list[str]) -> str:
    if len(columns) == len(all_columns):
        return f"all {len(columns)} columns"
    if len(columns) == len(all_columns) - 1:
        left_out = next(c for c in all_columns if c not in columns)
        return f"all columns but {left_out!r}"
    return plural(len(columns), "column") + f" ({listing(columns)})"


def _group_json(facts: GroupFacts) -> dict[str, Any]:
    return {
        "rows": facts.rows,
        "extra_rows": facts.extra_rows,
        "groups": facts.groups,
        "rows_in_groups": facts.rows_in_groups,
        "largest_groups": [{"count": e["count"], "rows": e["rows"]} for e in facts.examples],
        "note": "row numbers count from 0 in file order; at most 3 per group are listed",
    }


# integrity.duplicate_ids -------------------------------------------------------------------


@check(
    "integrity.duplicate_ids",
    domain="integrity",
    title="Unique ids and keys",
    severity=Severity.BLOCKER,
    thresholds=(Threshold("duplicate_id_ratio", fail=0),),
    requires=("ids",),
    remediation="Find where the repeated ids (listed in the evidence) come from — a join that "
    "fans out, a re-ingested batch — and fix it; keys must identify one row.",
)
def duplicate_ids(ctx: Context, params: CheckParams) -> list[Finding]:
    """The ``id:`` column, and every schema column with ``unique: true``, holds no repeats.

    Missing ids are not counted as repeats (``integrity.missing_values`` reports them).
    """
    findings = []
    for name, ds in ctx.datasets.items():
        declared = ctx.schema(name)
        keys = [ds.spec.id] if ds.spec.id else []
        if declared is not None:
            keys += [c for c, col in declared.columns.items() if col.unique and c not in keys]
        manifest = ctx.manifest(name)
        for column in keys:
            subject = column_subject(name, column)
            if column not in ds.columns:
                findings.append(absent_column(params, subject, manifest))
                continue
            findings.append(_ids_finding(ctx, params, name, column, manifest))
    return findings


def _ids_finding(
    ctx: Context, params: CheckParams, name: str, column: str, manifest: str
) -> Finding:
    ds = ctx.dataset(name)
    st = ctx.stats(name)[column]
    subject = column_subject(name, column)
    facts = ctx.facts.duplicates(ds, [column], show_values=True)
    extra, groups = facts.extra_rows, facts.groups
    for k in (st.nulls, st.nans):  # missing values form a group of their own: not repeats
        if k > 1:
            extra, groups = extra - (k - 1), groups - 1
    examples = [e for e in facts.examples if not is_missing(e["values"][column])]
    metrics = {
        "duplicate_id_count": extra,
        "duplicate_id_ratio": extra / facts.rows,
        "duplicated_ids": groups,
        "missing_id_count": st.missing,
    }
    evidence: tuple[str, ...] = (manifest,)
    if extra:
        artefact = {
            "dataset": name,
            "column": column,
            "duplicate_id_count": extra,
            "duplicated_ids": groups,
            "examples": [
                {"id": plain(e["values"][column]), "count": e["count"], "rows": e["rows"]}
                for e in examples
            ],
            "note": "row numbers count from 0 in file order; at most 3 per id are listed",
        }
        evidence += (ctx.add_artefact(f"integrity.duplicate_ids/{name}/{column}.json", artefact),)
        shown = ", ".join(f"{show(e['values'][column])} ×{e['count']}" for e in examples[:3])
        message = IDS_REPEATED.format(
            subject=subject,
            ids="1 id repeats" if groups == 1 else f"{groups:,} ids repeat",
            extra=extra,
            ratio=pct(extra / facts.rows),
            examples=shown,
        )
    else:
        message = IDS_UNIQUE.format(subject=subject, present=st.present)
    return params.judge(subject, "duplicate_id_ratio", metrics, message=message, evidence=evidence)


# integrity.train_test_overlap --------------------------------------------------------------


@check(
    "integrity.train_test_overlap",
    domain="integrity",
    title="Train/test overlap (leakage)",
    thresholds=(
        Threshold("overlap_ratio", warn=0.01, fail=0.1),
        Threshold("shared_id_count", fail=0),
    ),
    requires=("train_test",),
    options=ColumnsOption,
    remediation="Split before any augmentation or deduplicate across splits, and split by entity "
    "(customer, patient) when ids repeat; otherwise test scores overstate the model.",
)
def train_test_overlap(ctx: Context, params: CheckParams) -> list[Finding]:
    """Rows of every test-role dataset that also appear, feature for feature, in ``train``.

    Compared columns: the feature columns and the target both datasets have (not the id,
    timestamp, prediction or score), or ``params.columns``. When both datasets name the same
    id column, test ids found in train are counted too.
    """
    train = ctx.dataset("train")
    findings = []
    for name, ds in ctx.datasets.items():
        if name == "train" or ds.role != "test":
            continue
        subject = pair_subject(name, "train")
        evidence = (ctx.manifest(name), ctx.manifest("train"))
        chosen = _columns_option(params)
        if chosen is not None:
            absent = [c for c in chosen if c not in ds.columns or c not in train.columns]
            if absent:
                findings.append(_absent(params, subject, absent, f"{name} or train", evidence))
                continue
            columns = chosen
        else:
            columns = _shared_columns(ctx, name)
        if not columns:
            findings.append(
                skipped(params, subject, "the datasets share no feature columns", evidence=evidence)
            )
            continue
        findings.append(_overlap_finding(ctx, params, name, columns, evidence))
    return findings


def _shared_columns(ctx: Context, name: str) -> list[str]:
    ds, train = ctx.dataset(name), ctx.dataset("train")
    in_train = set(ctx.feature_columns("train"))
    columns = [c for c in ctx.feature_columns(name) if c in in_train]
    target = ds.spec.target
    if columns and target and target == train.spec.target and target in train.columns:
        columns.append(target)
    return columns


def _overlap_finding(
    ctx: Context, params: CheckParams, name: str, columns: list[str], evidence: tuple[str, ...]
) -> Finding:
    ds, train = ctx.dataset(name), ctx.dataset("train")
    subject = pair_subject(name, "train")
    count = ctx.facts.overlap(train, ds, columns)
    metrics: dict[str, Any] = {
        "overlap_count": count,
        "overlap_ratio": count / ds.rows,
        "shared_id_count": None,
    }
    undefined = {}
    key = ds.spec.id
    if key and key == train.spec.id:
        shared = ctx.facts.overlap(train, ds, [key])
        # A missing id matches a missing id in the join; that is not a shared id.
        in_train, in_test = ctx.stats("train")[key], ctx.stats(name)[key]
        if in_train.nulls:
            shared -= in_test.nulls
        if in_train.nans:
            shared -= in_test.nans
        metrics["shared_id_count"] = shared
    else:
        undefined["shared_id_count"] = "the two datasets do not name the same `id:` column"
    artefact = {"evaluated": name, "reference": "train", "columns": columns, "overlap_count": count}
    evidence = (*evidence, ctx.add_artefact(f"integrity.train_test_overlap/{name}.json", artefact))
    message = (
        f"{subject}: {count:,} of {ds.rows:,} {name} rows ({pct(count / ds.rows)}) "
        "also appear in train "
        f"on {_columns_text(columns, ds.columns)}"
    )
    shared = metrics["shared_id_count"]
    if shared is not None:
        if shared == 0:
            message += f"; no {name} id occurs in train"
        else:
            ids = f"1 {name} id also occurs" if shared == 1 else f"{shared:,} {name} ids also occur"
            message += f"; {ids} in train"
    return graded(
        params,
        subject,
        metrics,
        ["overlap_ratio", "shared_id_count"],
        message=message + ".",
        undefined=undefined,
        evidence=evidence,
    )
