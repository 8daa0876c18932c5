"""Membership and attribute inference statistics: conformance with scikit-learn, properties."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import log_loss, roc_auc_score, roc_curve

from assay.stats.privacy_attacks import (
    FPR_LEVELS,
    MIN_POOL,
    attack_features,
    classification_loss,
    encode_table,
    evaluate_attack,
    membership_advantage,
    rank_proba,
    regression_loss,
    roc_points,
    shadow_attack,
    shadow_training_set,
    threshold_attack,
    tpr_at_fpr,
)
from assay.stats.privacy_attribute import attribute_inference


def labelled_scores(n: int, shift: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    member = np.r_[np.ones(n, bool), np.zeros(n, bool)]
    scores = rng.normal(0.0, 1.0, 2 * n) + shift * member
    return np.round(scores, 1), member  # rounded: ties


# -- per-row loss -----------------------------------------------------------------------------


def test_the_loss_is_sklearns_log_loss_per_row() -> None:
    rng = np.random.default_rng(0)
    proba = rng.dirichlet([1, 1, 1], 200)
    y = rng.choice(["a", "b", "c"], 200)
    loss = classification_loss(y, proba, classes=("a", "b", "c"), probabilistic=True)
    assert loss.mean() == pytest.approx(log_loss(y, proba, labels=["a", "b", "c"]), abs=1e-12)
    assert loss[0] == pytest.approx(-np.log(proba[0, "abc".index(y[0])]))


def test_a_zero_probability_gives_a_finite_loss() -> None:
    loss = classification_loss([1], [[1.0, 0.0]], classes=(0, 1), probabilistic=True)
    assert np.isfinite(loss).all() and loss[0] > 30


def test_scores_use_the_margin_and_regressors_the_squared_error() -> None:
    scores = np.array([[-2.0, 2.0], [1.0, -1.0]])
    loss = classification_loss([1, 1], scores, classes=(0, 1), probabilistic=False)
    assert loss.tolist() == [-4.0, 2.0]
    assert regression_loss([1.0, 3.0], [2.0, 3.0]).tolist() == [1.0, 0.0]


def test_attack_features_shapes() -> None:
    proba = np.array([[0.9, 0.1], [0.2, 0.8]])
    probabilistic = attack_features([0, 0], y_pred=[0, 1], proba=proba, classes=(0, 1))
    assert probabilistic.shape == (2, 7)
    assert probabilistic[:, 4].tolist() == [1.0, 0.0]  # the top class is the true one
    scores = attack_features(
        [0, 0], y_pred=[0, 1], proba=proba, classes=(0, 1), probabilistic=False
    )
    assert scores.shape == (2, 6)
    assert attack_features([1.0, 2.0], y_pred=[1.0, 0.0]).shape == (2, 3)


def test_an_unknown_label_is_refused() -> None:
    with pytest.raises(ValueError, match="not one of the classes"):
        classification_loss(["z"], [[0.5, 0.5]], classes=("a", "b"), probabilistic=True)


# -- the ROC curve ----------------------------------------------------------------------------


def test_roc_points_are_sklearns_curve() -> None:
    scores, member = labelled_scores(300, 0.5, 1)
    fpr, tpr = roc_points(scores, member)
    ref_fpr, ref_tpr, _ = roc_curve(member, scores, drop_intermediate=False)
    np.testing.assert_allclose(fpr, ref_fpr, atol=1e-12)
    np.testing.assert_allclose(tpr, ref_tpr, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 30), min_size=4, max_size=80),
    st.integers(0, 2**31),
    st.sampled_from([0.0, 0.01, 0.1, 0.5, 1.0]),
)
def test_tpr_at_fpr_is_the_best_sklearn_point_within_the_fpr(
    values: list[int], seed: int, level: float
) -> None:
    member = np.random.default_rng(seed).random(len(values)) < 0.5
    member[0], member[1] = True, False
    scores = np.array(values, dtype=float)
    ref_fpr, ref_tpr, _ = roc_curve(member, scores, drop_intermediate=False)
    assert tpr_at_fpr(scores, member, level) == pytest.approx(ref_tpr[ref_fpr <= level].max())
    # The statistics do not depend on the rows' order.
    order = np.random.default_rng(seed + 1).permutation(len(values))
    assert tpr_at_fpr(scores[order], member[order], level) == tpr_at_fpr(scores, member, level)
    assert membership_advantage(scores[order], member[order]) == pytest.approx(
        membership_advantage(scores, member)
    )


def test_advantage_is_one_when_separated_and_zero_when_blind() -> None:
    member = np.r_[np.ones(50, bool), np.zeros(50, bool)]
    assert membership_advantage(np.r_[np.ones(50), np.zeros(50)], member) == 1.0
    assert membership_advantage(np.zeros(100), member) == 0.0
    assert tpr_at_fpr(np.zeros(100), member, 0.01) == 0.0  # all tied: no threshold below 100%


def test_rank_proba_keeps_the_order_and_ties() -> None:
    scores = np.array([3.0, -1.0, 3.0, 0.5])
    proba = rank_proba(scores)
    assert proba[:, 1].tolist() == [1.0, 0.0, 1.0, 0.5]
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


# -- evaluating an attack ---------------------------------------------------------------------


def test_evaluate_attack_agrees_with_sklearn_and_is_seeded() -> None:
    scores, member = labelled_scores(1000, 0.6, 2)
    result = evaluate_attack("x", scores, member, n_resamples=300, seed=5)
    assert result.auc.estimate == pytest.approx(roc_auc_score(member, scores), abs=1e-12)
    assert result.auc.low < result.auc.estimate < result.auc.high
    assert set(result.tpr) == set(FPR_LEVELS) and not result.undefined
    assert result.tpr[0.01] == tpr_at_fpr(scores, member, 0.01)
    again = evaluate_attack("x", scores, member, n_resamples=300, seed=5)
    assert again.to_json() == result.to_json()
    assert result.to_json()["n_members"] == 1000


def test_too_few_non_members_leave_a_low_fpr_undefined() -> None:
    scores, member = labelled_scores(300, 0.6, 3)
    result = evaluate_attack("x", scores, member, n_resamples=100, seed=0)
    assert np.isfinite(result.tpr[0.01]) and np.isnan(result.tpr[0.001])
    assert "fewer than 1000 non-members (300)" in result.undefined[0.001]


def test_an_attack_needs_both_sides() -> None:
    with pytest.raises(ValueError, match="members and non-members"):
        evaluate_attack("x", [0.1, 0.2], [True, True], seed=0)


def test_the_threshold_attack_calls_low_loss_rows_members() -> None:
    member = np.r_[np.ones(100, bool), np.zeros(100, bool)]
    loss = np.r_[np.full(100, 0.01), np.full(100, 1.0)]
    result = threshold_attack(loss, member, n_resamples=100, seed=0)
    assert result.name == "loss_threshold"
    assert result.auc.estimate == 1.0 and result.tpr[0.01] == 1.0 and result.advantage == 1.0


# -- the shadow-model attack ------------------------------------------------------------------


def test_shadow_halves_are_disjoint_balanced_and_seeded() -> None:
    seen: list[np.ndarray] = []

    def fit(inside: np.ndarray, seed: int) -> np.ndarray:
        seen.append(inside)
        flag = np.zeros(101)
        flag[inside] = 1.0
        return flag.reshape(-1, 1)

    data = shadow_training_set(fit, 101, n_shadows=3, seed=4)
    assert data.features.shape == (3 * 100, 1) and data.inside.sum() == 150
    np.testing.assert_array_equal(data.features[:, 0], data.inside)  # in rows are the inside
    assert all(len(s) == 50 for s in seen) and len({tuple(s) for s in seen}) == 3
    again: list[np.ndarray] = []
    seen, first = again, seen
    shadow_training_set(fit, 101, n_shadows=3, seed=4)
    assert [tuple(s) for s in again] == [tuple(s) for s in first]


def test_a_small_pool_is_refused() -> None:
    with pytest.raises(ValueError, match="shadow pool has 10 rows"):
        shadow_training_set(lambda inside, seed: np.zeros((10, 1)), 10, n_shadows=2, seed=0)
    assert MIN_POOL > 10


def test_the_shadow_attack_learns_what_membership_looks_like() -> None:
    """Shadows are confident on their own rows; so is the target on its members."""
    rng = np.random.default_rng(0)

    def fit(inside: np.ndarray, seed: int) -> np.ndarray:
        loss = rng.exponential(1.0, 400)
        loss[inside] *= 0.2
        return loss.reshape(-1, 1)

    member = np.r_[np.ones(300, bool), np.zeros(300, bool)]
    target = rng.exponential(1.0, 600) * np.where(member, 0.2, 1.0)
    result = shadow_attack(fit, 400, target.reshape(-1, 1), member, n_resamples=200, seed=1)
    assert result.name == "shadow_model" and result.auc.estimate > 0.75
    blind = shadow_attack(fit, 400, rng.exponential(1.0, (600, 1)), member, n_resamples=200, seed=1)
    assert abs(blind.auc.estimate - 0.5) < 0.08


# -- encoding and attribute inference ---------------------------------------------------------


def test_encode_table_codes_categories_and_keeps_numbers() -> None:
    table = pa.table(
        {
            "x": [1, 2, None],
            "c": ["b", "a", None],
            "flag": [True, False, True],
            "d": pa.array(["u", "v", "u"]).dictionary_encode(),
        }
    )
    encoded = encode_table(table)
    assert encoded.columns == ("x", "c", "flag", "d")
    assert encoded.categorical == (False, True, False, True)
    np.testing.assert_array_equal(encoded.values[:, 0], [1.0, 2.0, np.nan])
    np.testing.assert_array_equal(encoded.values[:, 1], [1.0, 0.0, np.nan])
    np.testing.assert_array_equal(encoded.values[:, 2], [1.0, 0.0, 1.0])
    unseen = encode_table(pa.table({"c": ["a", "z"]}), categories={"c": ["a", "b"]})
    np.testing.assert_array_equal(unseen.values[:, 0], [0.0, np.nan])


def attribute_world(n: int, leak: float, seed: int) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """Known features that say a little about ``s``; outputs that say ``leak`` more."""
    rng = np.random.default_rng(seed)
    s = rng.choice(["f", "m"], n)
    known = pa.table(
        {
            "x": rng.normal(0.3 * (s == "m"), 1.0, n),
            "region": rng.choice(["n", "s", "e"], n),
        }
    )
    outputs = rng.normal(leak * (s == "m"), 1.0, n).reshape(-1, 1)
    return known, outputs, s


def test_outputs_that_carry_the_attribute_give_an_advantage() -> None:
    known, outputs, s = attribute_world(800, 2.0, 0)
    result = attribute_inference(encode_table(known), outputs, s, n_resamples=300, seed=0)
    assert not isinstance(result, str)
    assert result.values == ("f", "m") and result.n == 800
    assert result.with_outputs.estimate > result.baseline.estimate + 0.2
    assert 0.0 < result.low < result.advantage < result.high
    assert result.to_json()["advantage"] == pytest.approx(result.advantage)


def test_outputs_without_the_attribute_give_none() -> None:
    known, outputs, s = attribute_world(800, 0.0, 1)
    result = attribute_inference(encode_table(known), outputs, s, n_resamples=300, seed=0)
    assert not isinstance(result, str)
    assert result.low < 0.0 < result.high and abs(result.advantage) < 0.05
    # Paired: the difference's interval is narrower than either side's.
    assert result.high - result.low < result.baseline.high - result.baseline.low


def test_the_auc_is_sklearns_on_the_cross_fitted_probabilities() -> None:
    known, outputs, s = attribute_world(300, 1.0, 2)
    result = attribute_inference(encode_table(known), outputs, s, n_resamples=100, seed=3)
    again = attribute_inference(encode_table(known), outputs, s, n_resamples=100, seed=3)
    assert not isinstance(result, str) and not isinstance(again, str)
    assert result.to_json() == again.to_json()
    assert 0.5 < result.with_outputs.estimate <= 1.0


def test_many_values_missing_and_rare_ones() -> None:
    known, outputs, _ = attribute_world(400, 1.0, 4)
    rng = np.random.default_rng(5)
    s = rng.choice(["a", "b", "c"], 400).astype(object)
    s[:10] = None
    s[10:12] = "rare"  # fewer rows than folds: left out
    result = attribute_inference(encode_table(known), outputs, s, n_resamples=100, seed=0)
    assert not isinstance(result, str)
    assert result.values == ("a", "b", "c") and result.n == 388
    assert result.dropped == {"missing": 10, "rare_value": 2}
    one = attribute_inference(encode_table(known), outputs, ["a"] * 400, seed=0)
    assert one == "fewer than two values of the sensitive attribute have at least 5 rows"
