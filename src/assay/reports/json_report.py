"""JSON results: the stored run as a documented, versioned document for other tools.

The format is ``assay.results/1``, described field by field in docs/results-schema.md and by
the JSON Schema in docs/results-schema.json. The number after the slash changes only on an
incompatible change; new optional fields may appear within a version, so readers ignore fields
they do not know. Output is deterministic: sorted keys, two-space indent, UTF-8, final newline.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from assay.reports._common import jsonable, key_fingerprint, signature_status, verdict_counts
from assay.run import Run

RESULTS_SCHEMA = "assay.results/1"
"""Type id and version of the JSON results document."""

INPUT_FIELDS = (
    "name",
    "role",
    "path",
    "blake3",
    "sha256",
    "bytes",
    "rows",
    "columns",
    "schema_fingerprint",
)
"""Fields every input fingerprint carries; ``null`` where the input does not have one."""


def results_document(
    run: Run, *, run_id: str, approvals: Sequence[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    """The ``assay.results/1`` document of a stored run, as plain JSON values."""
    verdict = run.verdict
    return {
        "schema": RESULTS_SCHEMA,
        "run_id": run_id,
        "created": run.created,
        "tool_version": run.tool_version,
        "spec_sha256": run.spec_sha256,
        "system": {str(k): str(v) for k, v in run.system.items()},
        "seed": run.seed,
        "inputs": [_input(i) for i in run.inputs],
        "environment": jsonable(run.environment),
        "verdict": {
            "status": verdict.status,
            "fail_on": verdict.fail_on.value,
            "counts": verdict_counts(run),
            "blocking": [{"check_id": c, "subject": s} for c, s in verdict.blocking],
        },
        "findings": [f.to_json() for f in run.findings],
        "artefacts": [a.to_json() for a in run.artefacts],
        "approvals": [_approval(a, run_id) for a in approvals],
        "previous": run.previous,
        "baseline": run.baseline,
    }


def render_json(run: Run, *, run_id: str, approvals: Sequence[Mapping[str, Any]] = ()) -> str:
    """The results document as text: sorted keys, two-space indent, a final newline."""
    document = results_document(run, run_id=run_id, approvals=approvals)
    text = json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    return text + "\n"


def _input(fingerprint: Mapping[str, Any]) -> dict[str, Any]:
    """An input fingerprint with every documented field; a manifest's ``dataset`` is its name."""
    data = jsonable(fingerprint)
    if "name" not in data and "dataset" in data:
        data["name"] = data.pop("dataset")
    return {**{k: None for k in INPUT_FIELDS}, **data}


def _approval(approval: Mapping[str, Any], run_id: str) -> dict[str, Any]:
    """An approval as stored, plus its key's fingerprint and whether its signature holds."""
    data = jsonable(approval)
    data.pop("fingerprint", None)
    data.setdefault("public_key", None)
    data["key_fingerprint"] = key_fingerprint(approval)
    data["signature_status"] = signature_status(approval, run_id)
    return dict(data)
