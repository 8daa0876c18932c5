"""Privacy checks: membership inference here, attribute inference in
:mod:`assay.checks.security_privacy_attribute` (imported below so both register).

``security.membership_inference`` attacks the audited model with the rows of ``train`` as
members and rows of the test-role datasets as non-members, the same number of each (a seeded
sample of at most ``max_rows`` per side). Two attacks: a loss threshold, and a shadow-model
attack whose shadows are trained on the rows left over (disjoint from the attacked ones).
Methods: docs/privacy-attacks.md; the statistics: :mod:`assay.stats.privacy_attacks`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from assay.checks import security_privacy_attribute  # noqa: F401  (registers its check)
from assay.checks._context import Context
from assay.checks._evaluation import Evaluation
from assay.checks._registry import CheckParams, Finding, Metric, Severity, Status, Threshold, check
from assay.checks.model_common import evaluated_datasets, graded, json_value, number
from assay.stats.privacy_attacks import (
    FPR_LEVELS,
    MIN_POOL,
    NO_POOL,
    AttackResult,
    attack_features,
    classification_loss,
    encode_table,
    regression_loss,
    shadow_attack,
    threshold_attack,
)

LABELS_ONLY = (
    "the model gives labels only (no probabilities or scores): a loss needs the model's "
    "confidence in the true class"
)
NO_TEST = "no dataset with role test and a target: no non-members to compare train with"
NO_TRAIN_TARGET = "train has no `target:` column: a member's loss needs its true label"
SHADOW_SCORES = (
    "the model gives scores (a decision_function), not probabilities, and cannot be refitted: "
    "a stand-in shadow's probabilities would not match its outputs"
)
SHADOW_FAILED = "the shadow-model attack failed: {problem}"
SHADOW_OFF = "n_shadows is 0: the shadow-model attack is off"
LEVEL_NAMES = {0.01: "1pct", 0.001: "0_1pct"}
ATTACKS = {"loss_threshold": "loss", "shadow_model": "shadow"}


class MembershipOptions(BaseModel):
    """``checks.security.membership_inference.params``."""

    model_config = ConfigDict(extra="forbid")

    max_rows: int = Field(
        default=2000, ge=10, le=1_000_000, description="Members (and non-members) sampled."
    )
    n_shadows: int = Field(
        default=4, ge=0, le=64, description="Shadow models trained (0 turns the attack off)."
    )
    shadow_pool_rows: int = Field(
        default=2000,
        ge=40,
        le=1_000_000,
        description="At most this many leftover rows form the shadow pool (each shadow trains "
        "on half).",
    )
    n_bootstrap: int = Field(default=1000, ge=100, le=100_000)
    confidence: float = Field(default=0.95, gt=0, lt=1)


@dataclass(frozen=True)
class _Outputs:
    """The model's outputs and the truth on some rows, with where each row comes from."""

    y_true: np.ndarray
    y_pred: np.ndarray
    proba: np.ndarray | None
    dataset: np.ndarray
    """The dataset each row comes from (its name)."""
    row: np.ndarray
    """Each row's position in its dataset."""

    @property
    def n(self) -> int:
        return int(self.row.size)

    def take(self, idx: np.ndarray) -> _Outputs:
        return _Outputs(
            self.y_true[idx],
            self.y_pred[idx],
            None if self.proba is None else self.proba[idx],
            self.dataset[idx],
            self.row[idx],
        )


def _outputs(evs: Sequence[Evaluation]) -> _Outputs:
    assert all(ev.y_true is not None for ev in evs)
    probas = [ev.proba for ev in evs if ev.proba is not None]
    proba = np.vstack(probas) if len(probas) == len(evs) else None
    return _Outputs(
        np.concatenate([np.asarray(ev.y_true) for ev in evs]),
        np.concatenate([np.asarray(ev.y_pred) for ev in evs]),
        proba,
        np.concatenate([np.full(ev.n, ev.dataset, dtype=object) for ev in evs]),
        np.concatenate([np.asarray(ev.rows, dtype=np.int64) for ev in evs]),
    )


@check(
    "security.membership_inference",
    domain="security",
    title="Membership inference",
    severity=Severity.MAJOR,
    thresholds=(
        Threshold("attack_auc", warn=0.6, fail=0.7, direction="max"),
        Threshold("attack_tpr_at_1pct_fpr", warn=0.05, fail=0.2, direction="max"),
        Threshold("attack_tpr_at_0_1pct_fpr", direction="max"),
    ),
    requires=("train_test", "target", "model"),
    options=MembershipOptions,
    min_rows=50,
    imports=("sklearn.ensemble",),
    remediation="A model whose outputs tell its training rows from new ones leaks who was in "
    "the training data: regularise it (shallower trees, a stronger penalty, early stopping), "
    "train on more data, round or withhold the probabilities it returns, or train with "
    "differential privacy (e.g. DP-SGD) when membership itself is sensitive.",
)
def membership_inference(ctx: Context, params: CheckParams) -> list[Finding]:
    """Loss-threshold and shadow-model attacks: can the model's outputs tell members apart?"""
    options = params.options
    assert isinstance(options, MembershipOptions)
    if ctx.datasets["train"].spec.target is None:
        return [_skipped(params, NO_TRAIN_TARGET)]
    tests = evaluated_datasets(ctx, "test")
    if not tests:
        return [_skipped(params, NO_TEST)]
    train_ev = ctx.evaluation("train")
    test_evs = [ctx.evaluation(name) for name in tests]
    if train_ev.task == "classification" and train_ev.proba is None:
        return [_skipped(params, LABELS_ONLY)]
    members, others = _outputs([train_ev]), _outputs(test_evs)
    m = min(options.max_rows, members.n, others.n)
    if m < params.min_rows:
        return [params.insufficient("train", m)]
    rng = np.random.default_rng(params.rng_seed("sample"))
    member_idx = np.sort(rng.choice(members.n, m, replace=False))
    other_idx = np.sort(rng.choice(others.n, m, replace=False))
    evaluated = _concat(members.take(member_idx), others.take(other_idx))
    is_member = np.r_[np.ones(m, bool), np.zeros(m, bool)]
    left = _concat(
        members.take(np.setdiff1d(np.arange(members.n), member_idx)),
        others.take(np.setdiff1d(np.arange(others.n), other_idx)),
    )
    n_pool = min(options.shadow_pool_rows, left.n)
    pool = left.take(np.sort(rng.choice(left.n, n_pool, replace=False)))
    seed = params.rng_seed("attacks")
    loss = _loss(train_ev, evaluated)
    attacks = [
        threshold_attack(
            loss,
            is_member,
            n_resamples=options.n_bootstrap,
            confidence=options.confidence,
            seed=seed,
        )
    ]
    shadow, shadow_note = _shadow(ctx, options, train_ev, evaluated, is_member, pool, seed)
    if shadow is not None:
        attacks.append(shadow)
    return [_finding(ctx, params, options, train_ev, attacks, shadow_note, n_pool, seed)]


def _concat(first: _Outputs, second: _Outputs) -> _Outputs:
    proba = None
    if first.proba is not None and second.proba is not None:
        proba = np.vstack([first.proba, second.proba])
    return _Outputs(
        np.concatenate([first.y_true, second.y_true]),
        np.concatenate([first.y_pred, second.y_pred]),
        proba,
        np.concatenate([first.dataset, second.dataset]),
        np.concatenate([first.row, second.row]),
    )


def _loss(ev: Evaluation, rows: _Outputs) -> np.ndarray:
    if ev.task == "regression":
        return regression_loss(rows.y_true.astype(np.float64), rows.y_pred.astype(np.float64))
    assert ev.classes is not None and rows.proba is not None
    return classification_loss(
        rows.y_true, rows.proba, classes=ev.classes, probabilistic=ev.probabilistic
    )


def _features_of(ev: Evaluation, rows: _Outputs, y_pred: Any, proba: Any) -> np.ndarray:
    if ev.task == "regression":
        return attack_features(rows.y_true.astype(np.float64), y_pred=y_pred)
    return attack_features(
        rows.y_true, y_pred=y_pred, proba=proba, classes=ev.classes, probabilistic=ev.probabilistic
    )


# -- the shadow models ------------------------------------------------------------------------


def _shadow(
    ctx: Context,
    options: MembershipOptions,
    ev: Evaluation,
    evaluated: _Outputs,
    is_member: np.ndarray,
    pool: _Outputs,
    seed: int,
) -> tuple[AttackResult | None, str]:
    """The shadow-model attack, or ``None`` and why not; else ``None`` and the shadow used."""
    from assay.sources.models.estimator import EstimatorModel
    from assay.stats.cross_validation import refittable

    if options.n_shadows == 0:
        return None, SHADOW_OFF
    model = ctx.model
    assert model is not None
    estimator = getattr(model, "estimator", None)
    clone_it = isinstance(model, EstimatorModel) and refittable(estimator)
    if not clone_it and ev.task == "classification" and not ev.probabilistic:
        return None, SHADOW_SCORES
    if pool.n < MIN_POOL:
        return None, NO_POOL.format(n=pool.n, need=MIN_POOL)
    features = list(ev.features)
    table = _pool_table(ctx, pool, features)
    y = pool.y_true
    if ev.task == "regression":
        y = y.astype(np.float64)
    if clone_it:
        fit = _clone_fit(estimator, table, y, ev, pool, features)
        description = f"clones of {type(estimator).__name__} (sklearn.base.clone)"
    else:
        fit = _stand_in_fit(table, y, ev, pool)
        kind = "Regressor" if ev.task == "regression" else "Classifier"
        description = f"stand-in HistGradientBoosting{kind} ({model.description} is not refittable)"
    target = _features_of(ev, evaluated, evaluated.y_pred, evaluated.proba)
    try:
        result = shadow_attack(
            fit,
            pool.n,
            target,
            is_member,
            n_shadows=options.n_shadows,
            n_resamples=options.n_bootstrap,
            confidence=options.confidence,
            seed=seed,
        )
    except Exception as exc:  # a shadow's fit failed, or the pool is too small
        return None, SHADOW_FAILED.format(problem=f"{type(exc).__name__}: {exc}")
    return result, description


def _pool_table(ctx: Context, pool: _Outputs, features: list[str]) -> pa.Table:
    """The pool rows' feature columns, in pool order."""
    parts = []
    order = []
    for name in dict.fromkeys(pool.dataset.tolist()):
        positions = np.flatnonzero(pool.dataset == name)
        parts.append(ctx.table(name, features).take(pa.array(pool.row[positions])))
        order.append(positions)
    table = pa.concat_tables(parts, promote_options="permissive")
    back = np.argsort(np.concatenate(order), kind="stable")
    return table.take(pa.array(back, pa.int64()))


def _aligned(proba: np.ndarray | None, got: Sequence[Any] | None, classes: Sequence[Any]) -> Any:
    """A shadow's probability columns in the audited model's class order (absent: 0)."""
    if proba is None or got is None:
        return proba
    out = np.zeros((proba.shape[0], len(classes)))
    for j, c in enumerate(got):
        if c in classes:
            out[:, list(classes).index(c)] = proba[:, j]
    return out


def _seeded(estimator: Any, seed: int) -> Any:
    """``estimator`` with every unset ``random_state`` (itself or a step's) set to ``seed``."""
    unset = {
        key: seed
        for key, value in estimator.get_params(deep=True).items()
        if (key == "random_state" or key.endswith("__random_state")) and value is None
    }
    return estimator.set_params(**unset) if unset else estimator


def _clone_fit(
    estimator: Any,
    table: pa.Table,
    y: np.ndarray,
    ev: Evaluation,
    pool: _Outputs,
    features: list[str],
) -> Any:
    from sklearn.base import clone

    from assay.sources.models.estimator import EstimatorModel

    by_name = getattr(estimator, "feature_names_in_", None) is not None
    frame = table.to_pandas()
    x: Any = frame if by_name else frame.to_numpy()

    def fit(inside: np.ndarray, seed: int) -> np.ndarray:
        shadow = _seeded(clone(estimator), seed)
        part = x.iloc[inside] if by_name else x[inside]
        shadow.fit(part, y[inside])
        out = EstimatorModel(shadow, source="shadow", features=features).predict_all(table)
        proba = _aligned(out.proba, out.classes, ev.classes or ())
        return _features_of(ev, pool, out.labels, proba)

    return fit


def _stand_in_fit(table: pa.Table, y: np.ndarray, ev: Evaluation, pool: _Outputs) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    encoded = encode_table(table)
    mask = list(encoded.categorical) if any(encoded.categorical) else None

    def fit(inside: np.ndarray, seed: int) -> np.ndarray:
        if ev.task == "regression":
            reg = HistGradientBoostingRegressor(random_state=seed, categorical_features=mask)
            reg.fit(encoded.values[inside], y[inside])
            return _features_of(ev, pool, reg.predict(encoded.values), None)
        clf = HistGradientBoostingClassifier(random_state=seed, categorical_features=mask)
        labels = np.array([str(v) for v in y], dtype=object)
        clf.fit(encoded.values[inside], labels[inside])
        names = [str(c) for c in ev.classes or ()]
        proba = _aligned(clf.predict_proba(encoded.values), list(clf.classes_), names)
        predicted = np.asarray(ev.classes, dtype=object)[np.argmax(proba, axis=1)]
        return _features_of(ev, pool, predicted, proba)

    return fit


# -- the finding ------------------------------------------------------------------------------


def _attack_metrics(result: AttackResult | None, prefix: str) -> dict[str, Metric]:
    keys = [f"{prefix}_auc", f"{prefix}_auc_ci_low", f"{prefix}_auc_ci_high"]
    keys += [f"{prefix}_tpr_at_{LEVEL_NAMES[level]}_fpr" for level in FPR_LEVELS]
    if result is None:
        return dict.fromkeys(keys)
    values = [result.auc.estimate, result.auc.low, result.auc.high]
    values += [result.tpr[level] for level in FPR_LEVELS]
    return {k: json_value(float(v)) for k, v in zip(keys, values, strict=True)}


def _finding(
    ctx: Context,
    params: CheckParams,
    options: MembershipOptions,
    ev: Evaluation,
    attacks: list[AttackResult],
    shadow_note: str,
    n_pool: int,
    seed: int,
) -> Finding:
    shadow = next((a for a in attacks if a.name == "shadow_model"), None)
    strongest = max(attacks, key=lambda a: a.auc.estimate)
    metrics: dict[str, Metric] = {}
    undefined: dict[str, str] = {}
    for name, prefix in ATTACKS.items():
        result = next((a for a in attacks if a.name == name), None)
        block = _attack_metrics(result, f"{prefix}_attack")
        metrics.update(block)
        for key, value in block.items():
            if value is None:
                level = next((lv for lv, n in LEVEL_NAMES.items() if f"_{n}_" in key), None)
                if result is None:
                    undefined[key] = shadow_note
                elif level is not None and level in result.undefined:
                    undefined[key] = result.undefined[level]
                else:
                    undefined[key] = "the bootstrap interval is undefined"
    metrics["attack_auc"] = metrics[f"{ATTACKS[strongest.name]}_attack_auc"]
    metrics["attack_auc_ci_low"] = metrics[f"{ATTACKS[strongest.name]}_attack_auc_ci_low"]
    metrics["attack_auc_ci_high"] = metrics[f"{ATTACKS[strongest.name]}_attack_auc_ci_high"]
    for level, label in LEVEL_NAMES.items():
        values = [a.tpr[level] for a in attacks if np.isfinite(a.tpr[level])]
        key = f"attack_tpr_at_{label}_fpr"
        metrics[key] = max(values) if values else None
        if not values:
            undefined[key] = attacks[0].undefined.get(level, "undefined")
    metrics["membership_advantage"] = max(a.advantage for a in attacks)
    metrics["n_members"] = attacks[0].n_members
    metrics["n_non_members"] = attacks[0].n_non_members
    metrics["n_shadow_models"] = options.n_shadows if shadow is not None else 0
    metrics["n_shadow_pool_rows"] = n_pool if shadow is not None else 0
    for key in [k for k, v in metrics.items() if v is None and k not in undefined]:
        undefined[key] = "the bootstrap interval is undefined"
    evidence = ctx.add_artefact(
        "security/membership_inference/train.json",
        {
            "members": "train",
            "non_members": evaluated_datasets(ctx, "test"),
            "rows_per_side": attacks[0].n_members,
            "seed": seed,
            "model": ctx.model.description if ctx.model else None,
            "task": ev.task,
            "loss": _loss_name(ev),
            "shadow": shadow_note,
            "shadow_pool_rows": n_pool,
            "n_shadows": options.n_shadows,
            "attacks": [a.to_json() for a in attacks],
            "strongest": strongest.name,
        },
    )
    parts = []
    for a in attacks:
        tpr = a.tpr[0.01]
        parts.append(
            f"{a.name.replace('_', '-')} AUC {a.auc.estimate:.3f} "
            f"[{number(json_value(a.auc.low), 3)}, {number(json_value(a.auc.high), 3)}], "
            f"TPR {number(json_value(tpr), 3)} at 1% FPR"
        )
    if shadow is None:
        parts.append(f"no shadow-model attack ({shadow_note})")
    message = (
        f"membership inference on {attacks[0].n_members:,} train rows (members) against "
        f"{attacks[0].n_non_members:,} held-out rows (non-members): " + "; ".join(parts) + "; "
        f"membership advantage {metrics['membership_advantage']:.3f}; "
        f"{ctx.model.description if ctx.model else 'model'}."
    )
    return graded(
        params,
        "train",
        metrics,
        ["attack_auc", "attack_tpr_at_1pct_fpr", "attack_tpr_at_0_1pct_fpr"],
        message=message,
        undefined=undefined,
        evidence=(ctx.manifest("train"), evidence),
    )


def _loss_name(ev: Evaluation) -> str:
    if ev.task == "regression":
        return "squared error"
    return "-log p(true class)" if ev.probabilistic else "max other score - true class score"


def _skipped(params: CheckParams, reason: str) -> Finding:
    return params.finding(
        "train",
        status=Status.SKIPPED,
        message=f"{reason}.",
        remediation="Give the spec a model with probabilities or scores, a `train` dataset and "
        "a held-out `test` dataset, both with the target.",
    )
