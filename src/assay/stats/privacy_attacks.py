"""Membership inference attacks on a trained model, and the table encoding of the attacks.

Membership inference asks whether a row was in the model's training set. Two attacks score
every evaluated row (higher = "more likely a member"):

- the **threshold attack** (Yeom et al. 2018): the score is minus the row's loss under the
  model — ``−log p(true class)`` for a classifier with probabilities, minus the margin
  ``s(true) − max s(other)`` for one with scores only, minus the squared error for a
  regressor (:func:`classification_loss`, :func:`regression_loss`);
- the **shadow-model attack** (Shokri et al. 2017): ``K`` shadow models are trained on random
  halves of a pool of rows disjoint from the evaluated ones; an attack classifier learns to
  tell a shadow's outputs on its own training half ("in") from those on the other half
  ("out") and then scores the audited model's outputs (:func:`shadow_attack`).

Each attack is summarised by :func:`evaluate_attack`: ROC AUC with a bootstrap percentile
interval (the vectorised bootstrap of :mod:`assay.stats.bootstrap`), the true-positive rate
at a fixed false-positive rate read exactly off the empirical ROC curve
(:func:`tpr_at_fpr`, no interpolation), and the membership advantage ``max(TPR − FPR)``.

:func:`encode_table` turns an Arrow table into the float matrix the stand-in shadow and the
attribute attacks of :mod:`assay.stats.privacy_attribute` learn from. Methods and their
limits: docs/privacy-attacks.md.

Example::

    from assay.stats.privacy_attacks import classification_loss, threshold_attack

    loss = classification_loss(y, proba, classes=(0, 1), probabilistic=True)
    result = threshold_attack(loss, is_member, seed=0)
    result.auc.estimate, result.tpr[0.01]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from assay.stats.bootstrap import (
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    BootstrapResult,
    bootstrap_classification,
)
from assay.stats.metrics import FloatArray, IntArray

FPR_LEVELS = (0.01, 0.001)
"""The false-positive rates the true-positive rate is reported at."""
EPS = float(np.finfo(np.float64).eps)
MAX_CATEGORIES = 250
"""Columns with more distinct values are encoded as ordinal codes, not as categories."""

NO_MEMBERS = "membership attacks need members and non-members; got {members} and {others}."
LENGTHS = "{name} has {got} rows, expected {n}: one entry per evaluated row."
TOO_FEW_FPR = (
    "fewer than {need} non-members ({n}): the smallest false-positive rate above zero is "
    "1/{n}, above {fpr:g}"
)
NO_POOL = "the shadow pool has {n} rows; a shadow attack needs at least {need}"


# -- per-row loss -----------------------------------------------------------------------------


def true_class_index(y_true: Any, classes: Sequence[Any]) -> IntArray:
    """Each row's class as its position in ``classes`` (every label must be one)."""
    lookup = {c: i for i, c in enumerate(classes)}
    lookup.update({str(c): i for i, c in enumerate(classes)})
    values = np.asarray(y_true, dtype=object)
    out = np.empty(values.size, dtype=np.int64)
    for i, v in enumerate(values.tolist()):
        found = lookup.get(v, lookup.get(str(v)))
        if found is None:
            raise ValueError(f"label {v!r} (row {i}) is not one of the classes {list(classes)}.")
        out[i] = found
    return out


def _true_and_other(proba: FloatArray, index: IntArray) -> tuple[FloatArray, FloatArray]:
    """Per row, the true class's column and the largest of the other columns."""
    rows = np.arange(index.size)
    true = proba[rows, index]
    others = proba.copy()
    others[rows, index] = -np.inf
    best_other = others.max(axis=1) if proba.shape[1] > 1 else np.full(index.size, -np.inf)
    return true, best_other


def classification_loss(
    y_true: Any, proba: Any, *, classes: Sequence[Any], probabilistic: bool
) -> FloatArray:
    """Per-row loss of a classifier: ``−log p(true)`` or, for scores, minus the true margin.

    Probabilities are clipped to ``[eps, 1]`` before the log (a 0 gives ``−log eps`` ≈ 36,
    not infinity). Scores (a ``decision_function``) have no likelihood; the loss is
    ``max s(other) − s(true)``, lower for rows the model scores more confidently right —
    the same order a likelihood would give for a monotone link.
    """
    p = np.asarray(proba, dtype=np.float64)
    index = true_class_index(y_true, classes)
    true, other = _true_and_other(p, index)
    if probabilistic:
        return np.asarray(-np.log(np.clip(true, EPS, 1.0)), dtype=np.float64)
    return np.asarray(other - true, dtype=np.float64)


def regression_loss(y_true: Any, y_pred: Any) -> FloatArray:
    """Per-row squared error."""
    error = np.asarray(y_true, dtype=np.float64) - np.asarray(y_pred, dtype=np.float64)
    return np.asarray(error**2, dtype=np.float64)


def attack_features(
    y_true: Any,
    *,
    y_pred: Any,
    proba: Any = None,
    classes: Sequence[Any] | None = None,
    probabilistic: bool = True,
) -> FloatArray:
    """What a shadow-model attack classifier sees of one model output per row.

    Classifiers (``proba`` given): the loss of :func:`classification_loss`, the true
    class's probability (or score), the margin over the best other class, the largest
    column, whether the top class is the true one, the entropy (probabilities only) and the
    true class's position. Regressors: ``log(1 + squared error)``, the prediction and the
    true value.
    """
    if proba is None or classes is None:
        truth = np.asarray(y_true, dtype=np.float64)
        pred = np.asarray(y_pred, dtype=np.float64)
        return np.column_stack([np.log1p((truth - pred) ** 2), pred, truth])
    p = np.asarray(proba, dtype=np.float64)
    index = true_class_index(y_true, classes)
    true, other = _true_and_other(p, index)
    loss = classification_loss(y_true, p, classes=classes, probabilistic=probabilistic)
    top = p.max(axis=1)
    correct = (p.argmax(axis=1) == index).astype(np.float64)
    columns = [loss, true, true - other, top, correct, index.astype(np.float64)]
    if probabilistic:
        clipped = np.clip(p, EPS, 1.0)
        columns.append(-(clipped * np.log(clipped)).sum(axis=1))
    return np.column_stack(columns)


# -- scoring an attack ------------------------------------------------------------------------


@dataclass(frozen=True)
class AttackResult:
    """One membership attack's scores and how well they separate members from non-members.

    ``tpr`` maps each false-positive rate of ``FPR_LEVELS`` to the true-positive rate there,
    ``nan`` when there are too few non-members to resolve it (``undefined`` says why).
    """

    name: str
    auc: BootstrapResult
    tpr: dict[float, float]
    advantage: float
    n_members: int
    n_non_members: int
    undefined: dict[float, str] = field(default_factory=dict)
    scores: FloatArray = field(default_factory=lambda: np.zeros(0), repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "attack": self.name,
            "roc_auc": _plain(self.auc.estimate),
            "roc_auc_ci": [_plain(self.auc.low), _plain(self.auc.high)],
            "bootstrap": {
                "n_resamples": self.auc.n_resamples,
                "n_undefined": self.auc.n_undefined,
                "confidence": self.auc.confidence,
                "seed": self.auc.seed,
                "method": self.auc.method,
            },
            "tpr_at_fpr": {f"{k:g}": _plain(v) for k, v in self.tpr.items()},
            "tpr_undefined": {f"{k:g}": v for k, v in self.undefined.items()},
            "membership_advantage": _plain(self.advantage),
            "n_members": self.n_members,
            "n_non_members": self.n_non_members,
        }


def _plain(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def roc_points(scores: Any, is_member: Any) -> tuple[FloatArray, FloatArray]:
    """The empirical ROC curve (FPR, TPR) with a point at every distinct score, from (0, 0).

    The rows scored at or above each distinct score are called members; tied scores enter
    together, so no point splits a tie.
    """
    s = np.asarray(scores, dtype=np.float64)
    member = np.asarray(is_member, dtype=bool)
    order = np.argsort(-s, kind="mergesort")
    s, member = s[order], member[order]
    last = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]  # last row of each tie group
    tp = np.cumsum(member)[last]
    fp = np.cumsum(~member)[last]
    n_pos, n_neg = max(int(member.sum()), 1), max(int((~member).sum()), 1)
    fpr = np.r_[0.0, fp / n_neg]
    tpr = np.r_[0.0, tp / n_pos]
    return fpr, tpr


def tpr_at_fpr(scores: Any, is_member: Any, fpr: float) -> float:
    """The largest TPR of a threshold whose FPR is at most ``fpr`` (exact, not interpolated).

    Every point of :func:`roc_points` is a threshold an attacker can use, so this is an
    attainable operating point: the step ROC curve read at ``fpr`` — the convention of Carlini
    et al. (2022), where linear interpolation between points would credit an attacker with a
    randomised threshold.
    """
    fprs, tprs = roc_points(scores, is_member)
    return float(tprs[fprs <= fpr + 1e-12].max())


def membership_advantage(scores: Any, is_member: Any) -> float:
    """``max(TPR − FPR)`` over thresholds (Yeom et al.'s membership advantage; 0 at chance)."""
    fprs, tprs = roc_points(scores, is_member)
    return float(np.max(tprs - fprs))


def rank_proba(scores: Any) -> FloatArray:
    """Scores as two-column "probabilities" ``[1 − r, r]``: ranks scaled to [0, 1].

    The order and the ties are the scores', so ROC AUC is unchanged; the bootstrap's
    probability checks accept them.
    """
    distinct, inverse = np.unique(np.asarray(scores, dtype=np.float64), return_inverse=True)
    ranked = np.asarray(inverse, dtype=np.float64).reshape(-1) / max(distinct.size - 1, 1)
    return np.column_stack([1.0 - ranked, ranked])


def evaluate_attack(
    name: str,
    scores: Any,
    is_member: Any,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int,
    fpr_levels: Sequence[float] = FPR_LEVELS,
) -> AttackResult:
    """ROC AUC (with its bootstrap interval), TPR at each of ``fpr_levels`` and advantage.

    The TPR at a level below ``1 / n_non_members`` is ``nan``: no threshold can have a false-
    positive rate between 0 and 1/n, so the figure would be the TPR at zero false positives.
    """
    s = np.asarray(scores, dtype=np.float64)
    member = np.asarray(is_member, dtype=bool)
    if s.shape != member.shape:
        raise ValueError(LENGTHS.format(name="scores", got=s.size, n=member.size))
    n_pos, n_neg = int(member.sum()), int((~member).sum())
    if not n_pos or not n_neg:
        raise ValueError(NO_MEMBERS.format(members=n_pos, others=n_neg))
    auc = bootstrap_classification(
        member.astype(np.int64),
        None,
        rank_proba(s),
        classes=(0, 1),
        positive=1,
        metrics=["roc_auc"],
        n_resamples=max(n_resamples, 1),
        confidence=confidence,
        seed=seed,
    )["roc_auc"]
    if n_resamples == 0:
        auc = BootstrapResult(
            "roc_auc", auc.estimate, np.nan, np.nan, np.nan, auc.n, 0, 0, confidence, seed
        )
    tpr: dict[float, float] = {}
    undefined: dict[float, str] = {}
    for level in fpr_levels:
        if n_neg * level < 1.0 - 1e-9:
            tpr[level] = np.nan
            undefined[level] = TOO_FEW_FPR.format(need=math.ceil(1 / level), n=n_neg, fpr=level)
        else:
            tpr[level] = tpr_at_fpr(s, member, level)
    return AttackResult(
        name=name,
        auc=auc,
        tpr=tpr,
        advantage=membership_advantage(s, member),
        n_members=n_pos,
        n_non_members=n_neg,
        undefined=undefined,
        scores=s,
    )


def threshold_attack(
    loss: Any,
    is_member: Any,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int,
) -> AttackResult:
    """The loss-threshold attack: rows with a lower loss are called members."""
    scores = -np.asarray(loss, dtype=np.float64)
    return evaluate_attack(
        "loss_threshold",
        scores,
        is_member,
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
    )


# -- the shadow-model attack ------------------------------------------------------------------

ShadowFit = Callable[[IntArray, int], FloatArray]
"""``fit(inside, seed)``: train a shadow on the pool rows ``inside`` and return its attack
features (:func:`attack_features`) for every pool row, in pool order."""

MIN_POOL = 40


def single_threaded() -> Any:
    """A context in which OpenMP and BLAS use one thread.

    The attacks fit many small models; threads gain little on them, and OpenMP's spinning
    threads slow to a crawl when the audit's worker processes already occupy the cores.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def attack_classifier(seed: int, categorical: Sequence[bool] = ()) -> Any:
    """The shadow attack's classifier (and one of the attribute attacks): gradient-boosted
    trees, stopped early on a seeded 20% validation split (weak signals overfit otherwise)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=200,
        learning_rate=0.1,
        max_leaf_nodes=15,
        min_samples_leaf=20,
        early_stopping=True,
        validation_fraction=0.2,
        n_iter_no_change=10,
        categorical_features=list(categorical) if any(categorical) else None,
        random_state=seed,
    )


@dataclass(frozen=True)
class ShadowData:
    """The attack classifier's training set: shadow outputs labelled in (1) or out (0)."""

    features: FloatArray
    inside: IntArray
    n_shadows: int
    n_pool: int


def shadow_training_set(fit: ShadowFit, n_pool: int, *, n_shadows: int, seed: int) -> ShadowData:
    """Train ``n_shadows`` shadows on random halves of the pool; label their outputs in/out.

    Shadow ``k`` is trained on a random half of the pool (``default_rng(seed)``'s k-th
    permutation) and its outputs on that half are "in", those on the other half "out": the
    halves are disjoint and equal in size, so the attack's training set is balanced.
    """
    if n_pool < MIN_POOL:
        raise ValueError(NO_POOL.format(n=n_pool, need=MIN_POOL))
    rng = np.random.default_rng(seed)
    half = n_pool // 2
    parts, labels = [], []
    for k in range(n_shadows):
        order = rng.permutation(n_pool)
        inside, outside = np.sort(order[:half]), np.sort(order[half : 2 * half])
        features = np.asarray(fit(inside, int(rng.integers(2**31))), dtype=np.float64)
        if features.shape[0] != n_pool:
            raise ValueError(
                LENGTHS.format(name=f"shadow {k}'s features", got=len(features), n=n_pool)
            )
        parts += [features[inside], features[outside]]
        labels += [np.ones(half, np.int64), np.zeros(half, np.int64)]
    return ShadowData(np.vstack(parts), np.concatenate(labels), n_shadows, n_pool)


def shadow_attack(
    fit: ShadowFit,
    n_pool: int,
    target_features: Any,
    is_member: Any,
    *,
    n_shadows: int = 4,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int,
) -> AttackResult:
    """The shadow-model attack: an attack classifier trained on shadows scores the target.

    ``target_features`` are :func:`attack_features` of the audited model's outputs on the
    evaluated rows; the score of a row is the attack classifier's probability of "in". The
    shadows and the attack run single-threaded (:func:`single_threaded`).
    """
    with single_threaded():
        data = shadow_training_set(fit, n_pool, n_shadows=n_shadows, seed=seed)
        attack = attack_classifier(seed)
        attack.fit(data.features, data.inside)
        scores = attack.predict_proba(np.asarray(target_features, dtype=np.float64))[:, 1]
    return evaluate_attack(
        "shadow_model",
        scores,
        is_member,
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
    )


# -- encoding tables for the stand-in shadow and the attribute attack --------------------------


@dataclass(frozen=True)
class Encoded:
    """A table as floats: numbers as they are, categories as codes (``nan`` = missing)."""

    values: FloatArray
    categorical: tuple[bool, ...]
    columns: tuple[str, ...]


def encode_table(table: pa.Table, *, categories: dict[str, list[Any]] | None = None) -> Encoded:
    """Numbers and booleans as floats; other columns as category codes in first-seen-sorted
    order (``categories`` fixes the codes, e.g. those of another table; unseen values → nan).

    A column with more than ``MAX_CATEGORIES`` distinct values is kept as ordinal codes but
    not marked categorical (gradient-boosted trees take at most 255 categories).
    """
    columns, mask = [], []
    known = categories if categories is not None else {}
    for name in table.column_names:
        column = table.column(name)
        kind = column.type
        if pa.types.is_dictionary(kind):
            column = column.cast(kind.value_type)
            kind = kind.value_type
        if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind):
            values = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
            columns.append(np.asarray(values, dtype=np.float64))
            mask.append(False)
            continue
        text = column.cast(pa.string())
        levels = known.get(name)
        if levels is None:
            levels = sorted(pc.unique(text.drop_null()).to_pylist())
            known[name] = levels
        codes = pc.index_in(text, value_set=pa.array(levels, pa.string()))
        values = codes.cast(pa.float64()).to_numpy(zero_copy_only=False)
        columns.append(np.asarray(values, dtype=np.float64))
        mask.append(len(levels) <= MAX_CATEGORIES)
    matrix = np.column_stack(columns) if columns else np.zeros((table.num_rows, 0))
    return Encoded(matrix, tuple(mask), tuple(table.column_names))


def categories_of(table: pa.Table) -> dict[str, list[Any]]:
    """The category levels :func:`encode_table` would use for ``table``'s text columns."""
    levels: dict[str, list[Any]] = {}
    encode_table(table, categories=levels)
    return levels


__all__ = [
    "FPR_LEVELS",
    "AttackResult",
    "Encoded",
    "ShadowData",
    "attack_classifier",
    "attack_features",
    "categories_of",
    "classification_loss",
    "encode_table",
    "evaluate_attack",
    "membership_advantage",
    "rank_proba",
    "regression_loss",
    "roc_points",
    "shadow_attack",
    "shadow_training_set",
    "single_threaded",
    "threshold_attack",
    "tpr_at_fpr",
]
