"""``security.attribute_inference``: can the model's outputs give away a sensitive attribute?

For every dataset of the chosen roles with ``sensitive:`` columns, and each such column, an
attacker who knows the non-sensitive features (by default the model's inputs other than the
sensitive columns) tries to predict the sensitive value twice: without and with the model's
outputs (its class probabilities or scores, else its predicted label or value). The graded
metric is the advantage — ROC AUC with the outputs minus ROC AUC without — with a paired
bootstrap interval (:func:`assay.stats.privacy_attribute.attribute_inference`).

When the sensitive attribute is itself a model input the outputs are computed from it, and the
advantage measures model inversion (Fredrikson et al. 2014): how much of that input the outputs
give back. When it is not an input and the attacker knows every input, the outputs hold nothing
the attacker lacks and the advantage should be about zero; ``known_features`` narrows what the
attacker is assumed to know. docs/privacy-attacks.md describes both.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from assay.checks._context import Context
from assay.checks._evaluation import Evaluation
from assay.checks._registry import CheckParams, Finding, Metric, Severity, Status, Threshold, check
from assay.checks.integrity_common import column_subject
from assay.checks.model_common import json_value, number
from assay.stats.privacy_attacks import encode_table, true_class_index
from assay.stats.privacy_attribute import AttributeInference, attribute_inference

NO_DATASET = "no dataset with role {roles} declares `sensitive:` columns: no attribute to infer"
UNKNOWN_FEATURES = (
    "params.known_features names {missing}, which dataset {dataset!r} does not have (its "
    "columns: {columns})."
)
INPUT_NOTE = (
    "{column} is a model input, so the outputs are computed from it: this measures model "
    "inversion — how much of it the outputs give back to someone who knows the other inputs"
)
NOT_INPUT_NOTE = "{column} is not a model input"


class AttributeOptions(BaseModel):
    """``checks.security.attribute_inference.params``."""

    model_config = ConfigDict(extra="forbid")

    roles: list[str] = Field(
        default_factory=lambda: ["train", "test"],
        min_length=1,
        description="Roles of the datasets attacked (train: members; test: new people).",
    )
    known_features: list[str] | None = Field(
        default=None,
        description="The columns the attacker knows (default: the model's inputs other than "
        "the sensitive columns).",
    )
    with_target: bool = Field(
        default=False, description="The attacker also knows each row's true target."
    )
    max_rows: int = Field(
        default=2000, ge=10, le=1_000_000, description="Rows sampled per dataset."
    )
    folds: int = Field(default=5, ge=2, le=20, description="Cross-fitting folds of the attack.")
    n_bootstrap: int = Field(default=1000, ge=100, le=100_000)
    confidence: float = Field(default=0.95, gt=0, lt=1)


@check(
    "security.attribute_inference",
    domain="security",
    title="Attribute inference",
    severity=Severity.MAJOR,
    thresholds=(Threshold("attribute_inference_advantage", warn=0.05, fail=0.1, direction="max"),),
    requires=("sensitive", "model"),
    options=AttributeOptions,
    min_rows=50,
    imports=("sklearn.ensemble", "sklearn.model_selection"),
    remediation="The model's outputs reveal the sensitive attribute beyond what the other "
    "features do: drop it (and its proxies) from the model's inputs if it should not be used, "
    "return labels or coarse scores instead of full probabilities, or restrict who sees them.",
)
def attribute_inference_check(ctx: Context, params: CheckParams) -> list[Finding]:
    """Infer each sensitive column with and without the model's outputs; grade the advantage."""
    options = params.options
    assert isinstance(options, AttributeOptions)
    names = [
        name for name, ds in ctx.datasets.items() if ds.role in options.roles and ds.spec.sensitive
    ]
    if not names:
        return [
            params.finding(
                "*",
                status=Status.SKIPPED,
                message=NO_DATASET.format(roles=" or ".join(options.roles)) + ".",
                remediation="Declare the sensitive columns under `sensitive:` on the datasets.",
            )
        ]
    findings: list[Finding] = []
    for name in names:
        findings.extend(_dataset(ctx, params, options, name))
    return findings


def _outputs(ev: Evaluation) -> tuple[np.ndarray, str]:
    """The model's outputs per row as numbers, and what they are."""
    if ev.proba is not None:
        what = "probabilities" if ev.probabilistic else "scores"
        return np.asarray(ev.proba, dtype=np.float64), what
    if ev.task == "regression":
        return np.asarray(ev.y_pred, dtype=np.float64).reshape(-1, 1), "predictions"
    assert ev.classes is not None
    index = true_class_index(ev.y_pred, ev.classes).astype(np.float64)
    return index.reshape(-1, 1), "predicted labels"


def _dataset(
    ctx: Context, params: CheckParams, options: AttributeOptions, name: str
) -> list[Finding]:
    ds = ctx.datasets[name]
    sensitive = [f.column for f in ds.spec.sensitive]
    ev = ctx.evaluation(name)
    given = options.known_features
    known = list(ev.features) if given is None else given
    known = [c for c in known if c not in sensitive]
    missing = [c for c in known if c not in ds.columns]
    if missing:
        return [
            params.finding(
                column_subject(name, column),
                status=Status.ERROR,
                message=UNKNOWN_FEATURES.format(
                    missing=", ".join(missing), dataset=name, columns=", ".join(ds.columns)
                ),
                remediation=f"Fix `checks.{params.info.id}.params.known_features`.",
            )
            for column in sensitive
        ]
    target = ds.spec.target if options.with_target else None
    columns = list(dict.fromkeys([*known, *([target] if target else []), *sensitive]))
    rng = np.random.default_rng(params.rng_seed("sample", name))
    n = min(options.max_rows, ev.n)
    idx = np.sort(rng.choice(ev.n, n, replace=False))
    table = ctx.table(name, columns).take(pa.array(ev.rows[idx], pa.int64()))
    attacker = [*known, *([target] if target else [])]
    encoded = encode_table(table.select(attacker))
    outputs, what = _outputs(ev)
    findings = []
    for column in sensitive:
        subject = column_subject(name, column)
        values = table.column(column).to_pylist()
        seed = params.rng_seed("attack", name, column)
        result = attribute_inference(
            encoded,
            outputs[idx],
            values,
            folds=options.folds,
            n_resamples=options.n_bootstrap,
            confidence=options.confidence,
            seed=seed,
        )
        is_input = column in ev.features
        if isinstance(result, str):
            findings.append(
                params.finding(
                    subject,
                    status=Status.SKIPPED,
                    message=f"{result} in {name}: nothing to infer.",
                    metrics={"n_rows": n},
                    remediation="Attack a dataset where the sensitive attribute varies.",
                )
            )
            continue
        if result.n < params.min_rows:
            findings.append(params.insufficient(subject, result.n))
            continue
        findings.append(
            _finding(ctx, params, ev, subject, column, attacker, what, is_input, result, seed)
        )
    return findings


def _finding(
    ctx: Context,
    params: CheckParams,
    ev: Evaluation,
    subject: str,
    column: str,
    attacker: list[str],
    what: str,
    is_input: bool,
    result: AttributeInference,
    seed: int,
) -> Finding:
    metrics: dict[str, Metric] = {
        "attribute_inference_advantage": json_value(result.advantage),
        "attribute_inference_advantage_ci_low": json_value(result.low),
        "attribute_inference_advantage_ci_high": json_value(result.high),
        "baseline_auc": json_value(result.baseline.estimate),
        "baseline_auc_ci_low": json_value(result.baseline.low),
        "baseline_auc_ci_high": json_value(result.baseline.high),
        "with_outputs_auc": json_value(result.with_outputs.estimate),
        "with_outputs_auc_ci_low": json_value(result.with_outputs.low),
        "with_outputs_auc_ci_high": json_value(result.with_outputs.high),
        "sensitive_is_model_input": int(is_input),
        "n_rows": result.n,
        "n_values": len(result.values),
    }
    undefined = {
        key: "undefined in every bootstrap resample" for key, v in metrics.items() if v is None
    }
    evidence = ctx.add_artefact(
        f"security/attribute_inference/{subject.replace(':', '/')}.json",
        {
            "dataset": ev.dataset,
            "sensitive": column,
            "sensitive_is_model_input": is_input,
            "attacker_knows": attacker,
            "model_outputs": what,
            "model": ctx.model.description if ctx.model else None,
            "attack": "the better of LogisticRegression and HistGradientBoostingClassifier, "
            "cross-fitted",
            "attack_seed": seed,
            **result.to_json(),
        },
    )
    known = ", ".join(attacker) if attacker else "nothing"
    note = (INPUT_NOTE if is_input else NOT_INPUT_NOTE).format(column=column)
    metric = "ROC AUC" if len(result.values) == 2 else "macro one-vs-rest ROC AUC"
    message = (
        f"{column} inferred in {ev.dataset} ({result.n:,} rows; the better of logistic "
        f"regression and boosted trees, {result.folds}-fold cross-fitted, knowing {known}): "
        f"{metric} {number(metrics['baseline_auc'], 3)} without the "
        f"model's {what}, {number(metrics['with_outputs_auc'], 3)} with them; advantage "
        f"{number(metrics['attribute_inference_advantage'], 3)} "
        f"[{number(metrics['attribute_inference_advantage_ci_low'], 3)}, "
        f"{number(metrics['attribute_inference_advantage_ci_high'], 3)}]; {note}."
    )
    return params.judge(
        subject,
        "attribute_inference_advantage",
        metrics,
        message=message,
        undefined=undefined,
        evidence=(ctx.manifest(ev.dataset), evidence),
    )
