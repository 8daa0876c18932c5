"""``model.provenance``: which model the audit ran, and how far its loading can be trusted.

Every report then names the audited model — its kind, its file and that file's sha256, its
features and classes — and a model loaded from a pickle or joblib file (or a skops file with
untrusted types), which the spec had to allow with ``trust: true``, shows as a warning: such
a file runs arbitrary code when loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assay.checks._context import Context
from assay.checks._registry import CheckParams, Finding, Severity, Status, Threshold, check
from assay.checks.model_common import json_value
from assay.sources.datasets import file_sha256

TRUST_THRESHOLD = Threshold("trust_warning_count", warn=0, direction="max")


@check(
    "model.provenance",
    domain="model",
    title="Model provenance and trust",
    severity=Severity.MINOR,
    thresholds=(TRUST_THRESHOLD,),
    requires=("model",),
    remediation="Save the model in a format that loads without running code (skops, ONNX), "
    "or keep `trust: true` only for files from a source you control.",
)
def provenance(ctx: Context, params: CheckParams) -> list[Finding]:
    """The model's identity (kind, file, sha256, features, classes) and its trust warnings."""
    model = ctx.model
    ref = ctx.spec.model
    if model is None or ref is None:
        return [
            params.finding(
                "*", status=Status.SKIPPED, message="no model was loaded.", remediation=""
            )
        ]
    record: dict[str, Any] = {
        **{k: json_value(v) for k, v in model.fingerprint().items()},
        "format": ref.format,
        "features": list(model.features) if model.features else None,
        "classes": [json_value(c) for c in model.classes] if model.classes else None,
        "probabilistic": model.probabilistic,
        "trust": ref.trust,
        "warnings": list(model.warnings),
    }
    if ref.path is not None:
        path = ctx.spec.resolve(Path(ref.path))
        digest, size = file_sha256(path)
        record.update(path=str(path), sha256=digest, bytes=size)
    evidence = ctx.add_artefact("model/provenance.json", record)
    count = len(model.warnings)
    identity = model.description + (f", sha256 {record['sha256'][:16]}…" if ref.path else "")
    message = (
        f"audited {identity}; " + "; ".join(model.warnings) + "."
        if count
        else f"audited {identity}; it loaded without running untrusted code."
    )
    return [
        params.judge(
            "model",
            TRUST_THRESHOLD.metric,
            {"trust_warning_count": count},
            message=message,
            evidence=(evidence,),
        )
    ]
