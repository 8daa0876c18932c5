"""The schema check: declared columns are present, with their types and nullability.

The schema is the dataset's effective one: declared under ``schema:``, or inferred from another
dataset (``schema: {infer: train}``) at audit time.
"""

from __future__ import annotations

from assay.checks._context import Context
from assay.checks._registry import CheckParams, Finding, Severity, Status, Threshold, check
from assay.checks.integrity_common import graded, listing, plural
from assay.sources.schema import logical_type, type_matches
from assay.spec.models import InferredSchema

SCHEMA_OK = (
    "{name} matches its schema{source}: {n} declared {columns} present with their types "
    "and nullability."
)

_SCHEMA_METRICS = ("missing_columns", "type_mismatches", "nullability_violations")


# integrity.schema --------------------------------------------------------------------------


@check(
    "integrity.schema",
    domain="integrity",
    title="Schema: columns, types and nullability",
    severity=Severity.BLOCKER,
    thresholds=(
        Threshold("missing_columns", fail=0),
        Threshold("type_mismatches", fail=0),
        Threshold("nullability_violations", fail=0),
    ),
    requires=("schema",),
    remediation="Fix the step that writes the dataset, or update `schema:` in assay.yaml if the "
    "change is intended.",
)
def schema(ctx: Context, params: CheckParams) -> list[Finding]:
    """Each dataset with a declared or inferred schema has its columns, types and nullability.

    Extra columns are judged by the schema's ``extra_columns`` (``allow``, ``warn``, ``fail``).
    """
    findings = []
    for name, ds in ctx.datasets.items():
        declared = ctx.schema(name)
        if declared is None:
            continue
        stats = ctx.stats(name)
        fields = {f.name: f for f in ds.schema}
        missing = [c for c in declared.columns if c not in fields]
        mismatches = [
            {
                "column": c,
                "declared": col.type,
                "found": logical_type(fields[c].type),
                "arrow_type": str(fields[c].type),
            }
            for c, col in declared.columns.items()
            if c in fields and not type_matches(col.type, logical_type(fields[c].type))
        ]
        violations = [
            {"column": c, "missing": stats[c].missing}
            for c, col in declared.columns.items()
            if c in fields and not col.nullable and stats[c].missing > 0
        ]
        extra = [c for c in fields if c not in declared.columns]
        metrics = {
            "missing_columns": len(missing),
            "type_mismatches": len(mismatches),
            "nullability_violations": len(violations),
            "extra_columns": len(extra),
        }
        source = ds.spec.schema_
        origin = f" (inferred from {source.infer})" if isinstance(source, InferredSchema) else ""
        problems = []
        if missing:
            problems.append(f"{plural(len(missing), 'missing column')} ({listing(missing)})")
        if mismatches:
            shown = [
                f"{m['column']} declared {m['declared']}, found {m['found']}"
                + ("" if m["arrow_type"] == m["found"] else f" ({m['arrow_type']})")
                for m in mismatches
            ]
            problems.append(
                f"{plural(len(mismatches), 'type mismatch', 'type mismatches')} ({listing(shown)})"
            )
        if violations:
            shown = [f"{v['column']}: {v['missing']:,} missing" for v in violations]
            problems.append(
                f"{plural(len(violations), 'non-nullable column')} with missing values "
                f"({listing(shown)})"
            )
        floor = Status.PASS
        if extra:
            policy = declared.extra_columns
            floor = {"allow": Status.PASS, "warn": Status.WARN, "fail": Status.FAIL}[policy]
            note = " allowed" if policy == "allow" else ""
            problems.append(f"{plural(len(extra), 'extra column')}{note} ({listing(extra)})")
        evidence: tuple[str, ...] = (ctx.manifest(name),)
        if problems:
            message = f"{name} does not match its schema{origin}: " + "; ".join(problems) + "."
            detail = {
                "dataset": name,
                "schema_source": source.infer if isinstance(source, InferredSchema) else "declared",
                "missing_columns": missing,
                "type_mismatches": mismatches,
                "nullability_violations": violations,
                "extra_columns": extra,
                "extra_columns_policy": declared.extra_columns,
            }
            evidence += (ctx.add_artefact(f"integrity.schema/{name}.json", detail),)
        else:
            n = len(declared.columns)
            message = SCHEMA_OK.format(
                name=name, source=origin, n=n, columns="column" if n == 1 else "columns"
            )
        findings.append(
            graded(
                params,
                name,
                metrics,
                _SCHEMA_METRICS,
                message=message,
                floor=floor,
                evidence=evidence,
            )
        )
    return findings
