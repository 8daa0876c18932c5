"""``security.pii``: personal data and secrets in every text column, and in text predictions.

Every row of every text column is scanned (no sampling), batch by batch, through the
prefilter and validators of :mod:`assay.privacy`. Findings and evidence never hold a raw
value: examples are masked with ``partial`` (``j***@e***.com``, ``***-**-6789``).
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Literal

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from assay._arrow import strings
from assay.checks._context import Context
from assay.checks._registry import CheckParams, Finding, Severity, Status, Threshold, check
from assay.checks.integrity_common import column_subject, listing, pct, skipped
from assay.privacy import (
    KINDS,
    ColumnReport,
    ColumnScan,
    column_context,
    is_text,
    scan_array,
    scan_batches,
)

Kind = Literal[
    "email",
    "phone",
    "payment_card",
    "iban",
    "us_ssn",
    "ipv4",
    "ipv6",
    "date_of_birth",
    "secret",
]

PII_FOUND = (
    "{subject}: {hits:,} of {values:,} values ({ratio}) hold personal data or secrets: {kinds}."
)
PII_DECLARED = (
    "{subject}: {hits:,} of {values:,} values ({ratio}) hold personal data ({kinds}); the column "
    "is declared in params.allowed_columns."
)
PII_CLEAN = "{subject}: no personal data or secrets in {values:,} values (every row scanned)."
NO_TEXT = "no text columns to scan"
PREDICTIONS = "<predictions>"
"""The column part of the subject of a model's text predictions: ``test:<predictions>``."""
REMEDIATION = (
    "Drop the column, or mask it before training and sharing (`assay mask DATA -o OUT "
    "--columns COLUMN --method hash`, docs/privacy.md), or remove the rows. If the column is "
    "meant to hold this data, declare it in `checks.security.pii.params.allowed_columns`."
)


class PiiOptions(BaseModel):
    """``checks.security.pii.params``."""

    model_config = ConfigDict(extra="forbid")

    allowed_columns: list[str] = Field(
        default_factory=list,
        description="Columns expected to hold personal data: `column` or `dataset:column`, "
        "shell-style patterns allowed (`*:email`). Reported, never failed.",
    )
    columns: list[str] | None = Field(
        default=None, min_length=1, description="Scan only these text columns."
    )
    kinds: list[Kind] | None = Field(
        default=None, min_length=1, description="Detect only these entity kinds."
    )
    max_examples: int = Field(default=3, ge=0, le=10, description="Masked examples per kind.")


@check(
    "security.pii",
    domain="security",
    title="Personal data and secrets in text",
    severity=Severity.MAJOR,
    thresholds=(Threshold("hit_rate", fail=0),),
    options=PiiOptions,
    remediation=REMEDIATION,
)
def pii(ctx: Context, params: CheckParams) -> list[Finding]:
    """Every text column (and a model's text predictions) holds no personal data or secrets.

    Any hit in a column not declared in ``allowed_columns`` fails by default: one card
    number or SSN in training data is already a breach to report, and a model trained on it
    can repeat it. Loosen ``hit_rate`` in the spec for free text where rare false positives
    are expected.
    """
    options = params.options if isinstance(params.options, PiiOptions) else PiiOptions()
    findings: list[Finding] = []
    if options.columns is not None:
        known = {c for ds in ctx.datasets.values() for c in ds.columns}
        absent = [c for c in options.columns if c not in known]
        if absent:
            findings.append(_absent(params, list(ctx.datasets), absent))
    for name, ds in ctx.datasets.items():
        manifest = ctx.manifest(name)
        chosen = [
            f.name
            for f in ds.schema
            if is_text(f.type) and (options.columns is None or f.name in options.columns)
        ]
        if not chosen:
            findings.append(skipped(params, name, NO_TEXT, evidence=(manifest,)))
            continue
        reports = _clean_by_their_values(ctx, name, chosen, options)
        streamed = [c for c in chosen if c not in reports]
        if streamed:
            reports |= scan_batches(
                ds.batches(streamed),
                streamed,
                kinds=options.kinds,
                max_examples=options.max_examples,
            )
        for column in chosen:
            findings.append(_judged(ctx, params, options, name, reports[column], manifest))
    if ctx.model is not None:
        findings += _predictions(ctx, params, options)
    return findings


def _clean_by_their_values(
    ctx: Context, name: str, columns: list[str], options: PiiOptions
) -> dict[str, ColumnReport]:
    """Reports for the columns whose exact value counts (from the profile pass) hold no
    personal data: scanning each distinct value once is scanning every row. A column with a
    hit, or without exact counts, is left out: it is streamed, so the evidence can give the
    rows the examples come from."""
    reports = {}
    profile = ctx.profile(name)
    for column in columns:
        prof = profile[column]
        if not prof.items.exact:
            continue
        values = [v for v in prof.items.counts if isinstance(v, str)]
        context = column_context(column)
        if any(True for _ in scan_array(strings(values), kinds=options.kinds, context=context)):
            continue
        reports[column] = ColumnReport(
            column=column,
            n_rows=prof.count,
            n_values=prof.count - prof.nulls,
            hit_count=0,
            kinds={},
            examples={},
            context=context,
        )
    return reports


def _predictions(ctx: Context, params: CheckParams, options: PiiOptions) -> list[Finding]:
    """The model's text outputs on each test-role dataset (numeric outputs hold no PII)."""
    findings = []
    for name, ds in ctx.datasets.items():
        if ds.role != "test":
            continue
        subject = column_subject(name, PREDICTIONS)
        try:
            predicted = _outputs(ctx, name)
        except Exception as exc:  # the model failed: every check that needs it says so
            findings.append(
                params.finding(
                    subject,
                    status=Status.ERROR,
                    message=f"{subject}: cannot get the model's predictions: {exc}",
                    remediation="Fix the model or its inputs (the message says how).",
                )
            )
            continue
        if not _is_text_output(predicted):
            continue
        scan = ColumnScan(PREDICTIONS, options.kinds, max_examples=options.max_examples)
        scan.update(pa.array([None if v is None else str(v) for v in predicted], pa.string()))
        findings.append(_judged(ctx, params, options, name, scan.result(), ctx.manifest(name)))
    return findings


def _outputs(ctx: Context, name: str) -> np.ndarray:
    """The model's outputs on dataset ``name``: the shared evaluation's, else (free text the
    evaluation cannot read as class labels) straight from the model."""
    try:
        return ctx.evaluation(name).y_pred
    except Exception:
        from assay.checks._evaluation import model_features

        assert ctx.model is not None
        features = model_features(ctx, name, ctx.model)
        return np.asarray(ctx.model.predict_all(ctx.table(name, features)).labels)


def _is_text_output(values: np.ndarray) -> bool:
    if values.dtype.kind in "US":
        return True
    return values.dtype.kind == "O" and any(isinstance(v, str) for v in values[:1000])


def _judged(
    ctx: Context,
    params: CheckParams,
    options: PiiOptions,
    dataset: str,
    report: ColumnReport,
    manifest: str,
) -> Finding:
    subject = column_subject(dataset, report.column)
    metrics: dict[str, float | int | None] = {
        "n_rows": report.n_rows,
        "n_values": report.n_values,
        "hit_count": report.hit_count,
        "hit_rate": report.hit_rate,
        "match_count": report.match_count,
        **{f"{kind}_count": report.kinds.get(kind, 0) for kind in KINDS},
    }
    undefined = {} if report.n_values else {"hit_rate": "the column has no present values"}
    evidence: tuple[str, ...] = (manifest,)
    if not report.hit_count:
        message = PII_CLEAN.format(subject=subject, values=report.n_values)
        return params.judge(
            subject, "hit_rate", metrics, message=message, undefined=undefined, evidence=evidence
        )
    artefact = {
        "dataset": dataset,
        **report.to_json(),
        "masking": "partial",
        "note": "examples are masked (method partial) with their row numbers; raw values "
        "are never stored",
    }
    evidence += (ctx.add_artefact(f"security.pii/{dataset}/{report.column}.json", artefact),)
    kinds = ", ".join(f"{kind} {n:,}" for kind, n in report.kinds.items())
    values = {
        "subject": subject,
        "hits": report.hit_count,
        "values": report.n_values,
        "ratio": pct(report.hit_rate or 0.0),
        "kinds": kinds,
    }
    if _declared(options, dataset, report.column):
        return params.finding(
            subject,
            status=Status.PASS,
            message=PII_DECLARED.format(**values),
            metrics=metrics,
            threshold=params.thresholds["hit_rate"],
            evidence=evidence,
        )
    return params.judge(
        subject, "hit_rate", metrics, message=PII_FOUND.format(**values), evidence=evidence
    )


def _declared(options: PiiOptions, dataset: str, column: str) -> bool:
    subject = column_subject(dataset, column)
    return any(
        fnmatchcase(subject if ":" in pattern else column, pattern)
        for pattern in options.allowed_columns
    )


def _absent(params: CheckParams, datasets: list[str], absent: list[str]) -> Finding:
    return params.finding(
        "params.columns",
        status=Status.ERROR,
        message=f"params.columns of {params.info.id} names {listing(absent)}, which no dataset "
        f"has ({listing(datasets)}).",
        remediation=f"Fix `checks.{params.info.id}.params.columns` in assay.yaml.",
    )
