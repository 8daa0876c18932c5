"""Fairness statistics: Fairlearn conformance, AIF360 identities, NaN policy, the bootstrap."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equal_opportunity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.stats.fairness import (
    ABSENT_PRIVILEGED_GROUP,
    ALL_GROUPS,
    BAD_PARAMETER,
    BETWEEN_GROUP_METRICS,
    HEADLINE,
    LENGTHS_DIFFER,
    MISSING_VALUES,
    NO_ACTUAL_NEGATIVES,
    NO_ACTUAL_POSITIVES,
    NO_PREDICTED_POSITIVES,
    NOT_BINARY,
    POOLED,
    PRIVILEGED_SELECTS_NONE,
    PRIVILEGED_SMALL,
    SMALL_GROUPS,
    TOO_FEW_GROUPS,
    UNKNOWN_FEATURE,
    UNKNOWN_POS_LABEL,
    UNKNOWN_PRIVILEGED,
    ZERO_OVER_ZERO,
    FairnessResult,
    fairness_by_grouping,
    fairness_metrics,
)

FAIRLEARN: dict[str, Callable[..., float]] = {
    "demographic_parity_difference": demographic_parity_difference,
    "demographic_parity_ratio": demographic_parity_ratio,
    "equalized_odds_difference": equalized_odds_difference,
    "equalized_odds_ratio": equalized_odds_ratio,
    "equal_opportunity_difference": equal_opportunity_difference,
    "equal_opportunity_ratio": equal_opportunity_ratio,
}


def _dataset(kind: str, seed: int) -> tuple[Any, Any, dict[str, Any], Any]:
    """Labels, predictions, sensitive features and the positive label; every group has rows
    of both classes, so no rate is undefined and Fairlearn's zero-division convention is moot."""
    rng = np.random.default_rng(seed)
    n = 1500
    colour = rng.choice(["Black", "White", "Asian", "Other"], size=n, p=[0.3, 0.4, 0.2, 0.1])
    sex = rng.choice(["Female", "Male"], size=n)
    bias = 0.15 * (colour == "White") + 0.1 * (sex == "Male")
    y_true = rng.random(n) < 0.35 + bias / 2
    y_pred = rng.random(n) < np.where(y_true, 0.6, 0.2) + bias
    if kind == "two_groups":
        return y_true.astype(int), y_pred.astype(int), {"sex": sex}, 1
    if kind == "several_groups":
        return y_true.astype(int), y_pred.astype(int), {"colour": colour}, 1
    if kind == "intersection":
        return y_true.astype(int), y_pred.astype(int), {"colour": colour, "sex": sex}, 1
    if kind == "string_labels":
        names = np.array(["no", "yes"])
        sensitive = {"colour": list(colour), "sex": pd.Series(sex)}
        return list(names[y_true.astype(int)]), names[y_pred.astype(int)], sensitive, "yes"
    if kind == "integer_groups":
        age = rng.integers(0, 5, size=n)
        return pd.Series(y_true), pd.Series(y_pred), {"age_band": age}, True
    raise AssertionError(kind)


KINDS = ["two_groups", "several_groups", "intersection", "string_labels", "integer_groups"]


def _binary(values: Any, pos_label: Any) -> np.ndarray[Any, Any]:
    return (np.asarray(values) == pos_label).astype(int)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("kind", KINDS)
def test_disparities_equal_fairlearn(kind: str, seed: int) -> None:
    y_true, y_pred, sensitive, pos_label = _dataset(kind, seed)
    result = fairness_metrics(y_true, y_pred, sensitive, pos_label=pos_label, seed=0, n_bootstrap=0)
    frame = pd.DataFrame({k: np.asarray(v) for k, v in sensitive.items()})
    # Fairlearn's wrappers take pos_label 1 on {0, 1} labels; Assay takes any labels.
    yt, yp = _binary(y_true, pos_label), _binary(y_pred, pos_label)
    assert not any(g.small for g in result.groups)
    for metric, reference in FAIRLEARN.items():
        expected = reference(yt, yp, sensitive_features=frame)
        assert result.all_groups_disparities[metric].value == pytest.approx(expected, abs=1e-12)
        assert result.disparities[metric].value == pytest.approx(expected, abs=1e-12)
    assert tuple(result.disparities) == BETWEEN_GROUP_METRICS


@pytest.mark.parametrize("kind", KINDS)
def test_group_rates_equal_fairlearn_metric_frame(kind: str) -> None:
    y_true, y_pred, sensitive, pos_label = _dataset(kind, 3)
    result = fairness_metrics(y_true, y_pred, sensitive, pos_label=pos_label, seed=0, n_bootstrap=0)
    frame = MetricFrame(
        metrics={
            "selection_rate": functools.partial(selection_rate, pos_label=pos_label),
            "tpr": functools.partial(true_positive_rate, pos_label=pos_label),
            "fpr": functools.partial(false_positive_rate, pos_label=pos_label),
            "count": lambda t, p: len(t),
        },
        y_true=np.asarray(y_true),
        y_pred=np.asarray(y_pred),
        sensitive_features=pd.DataFrame({k: np.asarray(v) for k, v in sensitive.items()}),
    )
    by_group = frame.by_group.dropna()  # Fairlearn lists combinations that never occur
    assert len(by_group) == len(result.groups)
    for group in result.groups:
        values = tuple(v for _, v in group.values)
        row = by_group.loc[values if len(values) > 1 else values[0]]
        assert group.size == row["count"]
        for name in ("selection_rate", "tpr", "fpr"):
            assert getattr(group, name) == pytest.approx(row[name], abs=1e-12)


def test_group_table_counts_and_rates() -> None:
    y_true = [1, 1, 0, 0, 1, 0, 0, 1]
    y_pred = [1, 0, 1, 0, 1, 1, 1, 1]
    sex = ["F", "F", "F", "F", "M", "M", "M", "M"]
    result = fairness_metrics(
        y_true, y_pred, {"sex": sex}, pos_label=1, seed=0, n_bootstrap=0, min_group_size=1
    )
    female, male = result.groups
    assert (female.group, female.size, female.actual_positives) == ("sex=F", 4, 2)
    assert (female.predicted_positives, female.true_positives, female.false_positives) == (2, 1, 1)
    assert (female.selection_rate, female.tpr, female.fpr) == (0.5, 0.5, 0.5)
    assert (female.precision, female.error_rate) == (0.5, 0.5)
    assert (male.selection_rate, male.tpr, male.fpr, male.precision) == (1.0, 1.0, 1.0, 0.5)
    assert male.error_rate == 0.5
    assert result.disparities["demographic_parity_difference"].value == 0.5
    assert result.disparities["demographic_parity_difference"].high_group == "sex=M"
    assert result.disparities["demographic_parity_difference"].low_group == "sex=F"
    assert result.warnings == ()


@pytest.mark.parametrize("privileged", ["Male", "Female"])
def test_two_group_identities_between_the_conventions(privileged: str) -> None:
    y_true, y_pred, sensitive, _ = _dataset("two_groups", 4)
    result = fairness_metrics(
        y_true, y_pred, sensitive, pos_label=1, seed=0, privileged={"sex": privileged}
    )
    assert result.privileged is not None
    pooled = result.privileged.pooled
    (only,) = result.privileged.by_group
    di, spd = pooled.disparate_impact.value, pooled.statistical_parity_difference.value
    assert (only.disparate_impact.value, only.statistical_parity_difference.value) == (di, spd)
    dp = result.disparities
    assert abs(spd) == pytest.approx(dp["demographic_parity_difference"].value, abs=1e-12)
    assert min(di, 1 / di) == pytest.approx(dp["demographic_parity_ratio"].value, abs=1e-12)
    rates = {dict(g.values)["sex"]: g.selection_rate for g in result.groups}
    other = "Female" if privileged == "Male" else "Male"
    assert spd == pytest.approx(rates[other] - rates[privileged], abs=1e-15)  # signed
    assert di == pytest.approx(rates[other] / rates[privileged], rel=1e-15)


def test_several_groups_against_the_privileged_one() -> None:
    y_true, y_pred, sensitive, _ = _dataset("several_groups", 5)
    result = fairness_metrics(
        y_true, y_pred, sensitive, pos_label=1, seed=0, privileged={"colour": "White"}
    )
    assert result.privileged is not None
    rates = {g.group: g.selection_rate for g in result.groups}
    sizes = {g.group: g.size for g in result.groups}
    assert result.privileged.privileged == "colour=White"
    assert [c.group for c in result.privileged.by_group] == [
        "colour=Asian",
        "colour=Black",
        "colour=Other",
    ]
    for comparison in result.privileged.by_group:
        impact = rates[comparison.group] / rates["colour=White"]
        assert comparison.disparate_impact.value == pytest.approx(impact, rel=1e-12)
        assert comparison.passes_four_fifths == (impact >= 0.8)
    failing = tuple(c.group for c in result.privileged.by_group if c.disparate_impact.value < 0.8)
    assert result.privileged.four_fifths_failures == failing
    pooled = result.privileged.pooled
    others = [g for g in rates if g != "colour=White"]
    pooled_rate = sum(rates[g] * sizes[g] for g in others) / sum(sizes[g] for g in others)
    assert pooled.group == POOLED
    assert pooled.size == sum(sizes[g] for g in others)
    assert pooled.statistical_parity_difference.value == pytest.approx(
        pooled_rate - rates["colour=White"], abs=1e-12
    )


def test_four_fifths_is_decided_exactly_at_the_boundary() -> None:
    # privileged: 50 of 100 selected; unprivileged: 40 of 100 -> DI exactly 0.8, passes.
    sex = ["M"] * 100 + ["F"] * 200
    y_pred = [1] * 50 + [0] * 50 + [1] * 40 + [0] * 60 + [1] * 39 + [0] * 61
    group = ["M"] * 100 + ["A"] * 100 + ["B"] * 100
    result = fairness_metrics(
        y_pred, y_pred, {"g": group, "s": sex}, pos_label=1, seed=0, n_bootstrap=0,
        features=["g"], privileged={"g": "M"},
    )  # fmt: skip
    assert result.privileged is not None
    verdicts = {c.group: c.passes_four_fifths for c in result.privileged.by_group}
    assert verdicts == {"g=A": True, "g=B": False}
    assert result.privileged.four_fifths_failures == ("g=B",)
    assert result.privileged.pooled.passes_four_fifths is False  # 79 / 200 = 0.395 < 0.4


def test_intersection_and_single_features_on_request() -> None:
    y_true, y_pred, sensitive, _ = _dataset("intersection", 6)
    privileged = {"colour": "White", "sex": "Male"}
    results = fairness_by_grouping(
        y_true, y_pred, sensitive, pos_label=1, seed=3, n_bootstrap=50, privileged=privileged
    )
    assert [r.features for r in results] == [("colour",), ("sex",), ("colour", "sex")]
    assert len(results[2].groups) == 8
    assert results[2].groups[0].group == "colour=Asian & sex=Female"
    assert results[2].privileged is not None
    assert results[2].privileged.privileged == "colour=White & sex=Male"
    for result in results:
        alone = fairness_metrics(
            y_true, y_pred, sensitive, pos_label=1, seed=3, n_bootstrap=50,
            privileged=privileged, features=result.features,
        )  # fmt: skip
        assert _same(alone.to_json(), result.to_json())
    only_sex = fairness_metrics(
        y_true, y_pred, sensitive, pos_label=1, seed=0, features="sex", privileged={"sex": "Male"}
    )
    assert only_sex.features == ("sex",)
    assert only_sex.privileged is not None
    # a privileged value for only some features of a grouping: no AIF360 comparison there
    partial = fairness_metrics(
        y_true, y_pred, sensitive, pos_label=1, seed=0, privileged={"sex": "Male"}
    )
    assert partial.privileged is None


def test_zero_division_gives_nan_and_a_warning() -> None:
    # group "b" has no actual positives and no predicted positives; "c" has no negatives.
    group = ["a"] * 4 + ["b"] * 3 + ["c"] * 2
    y_true = [1, 0, 1, 0, 0, 0, 0, 1, 1]
    y_pred = [1, 1, 0, 0, 0, 0, 0, 1, 0]
    result = fairness_metrics(
        y_true, y_pred, {"g": group}, pos_label=1, seed=0, min_group_size=1, n_bootstrap=0
    )
    _, b, c = result.groups
    assert math.isnan(b.tpr) and math.isnan(b.precision) and b.selection_rate == 0.0
    assert math.isnan(c.fpr) and c.tpr == 0.5
    assert result.warnings == (
        NO_ACTUAL_POSITIVES.format(group="g=b", pos_label=1),
        NO_PREDICTED_POSITIVES.format(group="g=b"),
        NO_ACTUAL_NEGATIVES.format(group="g=c"),
    )
    # undefined rates are left out of the spread: TPR compares a (0.5) with c (0.5) only
    assert result.disparities["equal_opportunity_difference"].value == 0.0
    assert result.disparities["demographic_parity_difference"].value == 0.5
    # Fairlearn counts b's undefined TPR as 0 (sklearn's confusion_matrix normalisation)
    frame = MetricFrame(
        metrics=true_positive_rate, y_true=y_true, y_pred=y_pred, sensitive_features=group
    )
    assert frame.by_group["b"] == 0.0


def test_undefined_disparities_say_why() -> None:
    group = ["a"] * 3 + ["b"] * 3
    y_true = [1, 0, 0, 0, 0, 0]  # b has no positives: one group with a defined TPR
    y_pred = [0, 0, 0, 0, 0, 0]  # nobody selected: selection-rate ratio is 0 / 0
    result = fairness_metrics(
        y_true, y_pred, {"g": group}, pos_label=1, seed=0, min_group_size=1, n_bootstrap=20,
        privileged={"g": "a"},
    )  # fmt: skip
    for scope in (HEADLINE.format(min_group_size=1), ALL_GROUPS):
        disparities = result.all_groups_disparities if scope == ALL_GROUPS else result.disparities
        assert math.isnan(disparities["demographic_parity_ratio"].value)
        assert disparities["demographic_parity_difference"].value == 0.0
        assert math.isnan(disparities["equal_opportunity_difference"].value)
        assert math.isnan(disparities["equalized_odds_difference"].value)
        assert math.isnan(disparities["equalized_odds_ratio"].ci_low)
        assert disparities["equalized_odds_ratio"].ci_resamples == 0
        expected = [
            ZERO_OVER_ZERO.format(rate="selection rate", metrics="demographic parity", scope=scope),
            TOO_FEW_GROUPS.format(
                rate="TPR", metrics="equal opportunity, equalized odds", scope=scope, count=1
            ),
        ]
        assert all(message in result.warnings for message in expected)
    assert result.privileged is not None
    assert math.isnan(result.privileged.pooled.disparate_impact.value)
    assert result.privileged.pooled.statistical_parity_difference.value == 0.0
    assert result.privileged.pooled.passes_four_fifths is None
    assert PRIVILEGED_SELECTS_NONE.format(group="g=a") in result.warnings


def test_small_groups_are_reported_flagged_and_left_out_of_the_headline() -> None:
    y_true, y_pred, sensitive, _ = _dataset("several_groups", 7)
    colour = np.asarray(sensitive["colour"]).copy()
    colour[:12] = "Tiny"
    y_pred = np.asarray(y_pred).copy()
    y_pred[:12] = 1  # the tiny group would dominate demographic parity
    result = fairness_metrics(
        y_true, y_pred, {"colour": colour}, pos_label=1, seed=0, privileged={"colour": "White"}
    )
    tiny = next(g for g in result.groups if g.group == "colour=Tiny")
    assert tiny.small and tiny.size == 12 and tiny.selection_rate == 1.0
    assert [g.small for g in result.groups] == [False, False, False, True, False]
    assert result.excluded_groups == ("colour=Tiny",)
    message = SMALL_GROUPS.format(count=1, min_group_size=30, groups=["colour=Tiny"])
    assert message in result.warnings
    # the headline equals Fairlearn on the rows of the groups that are large enough ...
    keep = colour != "Tiny"
    frame = pd.DataFrame({"colour": colour})
    for metric, reference in FAIRLEARN.items():
        expected = reference(y_true[keep], y_pred[keep], sensitive_features=frame[keep])
        assert result.disparities[metric].value == pytest.approx(expected, abs=1e-12)
        # ... and all_groups_disparities to Fairlearn on every row
        everything = reference(y_true, y_pred, sensitive_features=frame)
        assert result.all_groups_disparities[metric].value == pytest.approx(everything, abs=1e-12)
    assert result.all_groups_disparities["demographic_parity_difference"].high_group == (
        "colour=Tiny"
    )
    assert result.privileged is not None
    tiny_vs = next(c for c in result.privileged.by_group if c.group == "colour=Tiny")
    assert tiny_vs.small and tiny_vs.passes_four_fifths is True
    assert result.privileged.pooled.size == len(colour) - result.privileged.privileged_size


def test_a_small_privileged_group_is_flagged() -> None:
    group = ["p"] * 5 + ["u"] * 40
    y = [1, 0] * 22 + [1]
    result = fairness_metrics(
        y, y, {"g": group}, pos_label=1, seed=0, n_bootstrap=0, privileged={"g": "p"}
    )
    assert result.privileged is not None and result.privileged.privileged_small
    assert PRIVILEGED_SMALL.format(group="g=p", size=5, min_group_size=30) in result.warnings
    assert (
        TOO_FEW_GROUPS.format(
            rate="selection rate",
            metrics="demographic parity",
            scope="groups of at least 30 rows",
            count=1,
        )
        in result.warnings
    )
    assert math.isnan(result.disparities["demographic_parity_difference"].value)
    assert not math.isnan(result.all_groups_disparities["demographic_parity_difference"].value)


def test_unknown_privileged_value_names_feature_value_and_what_occurs() -> None:
    y_true, y_pred, sensitive, _ = _dataset("intersection", 8)
    with pytest.raises(ValueError) as caught:
        fairness_metrics(
            y_true, y_pred, sensitive, pos_label=1, seed=0, privileged={"colour": "white"}
        )
    assert str(caught.value) == UNKNOWN_PRIVILEGED.format(
        value="white", feature="colour", values=["Asian", "Black", "Other", "White"]
    )
    assert str(caught.value) == (
        "Privileged value 'white' of sensitive feature 'colour' does not occur in the data; "
        "the values that occur are ['Asian', 'Black', 'Other', 'White']."
    )
    with pytest.raises(ValueError) as caught:
        fairness_metrics(y_true, y_pred, sensitive, pos_label=1, seed=0, privileged={"race": 1})
    assert str(caught.value) == UNKNOWN_FEATURE.format(
        where="privileged", name="race", declared=["colour", "sex"]
    )


def test_a_privileged_combination_that_never_occurs_is_refused() -> None:
    colour, sex = ["A", "A", "B", "B"], ["F", "F", "M", "M"]
    with pytest.raises(ValueError) as caught:
        fairness_metrics(
            [0, 1, 0, 1], [1, 1, 0, 0], {"colour": colour, "sex": sex}, pos_label=1, seed=0,
            privileged={"colour": "A", "sex": "M"},
        )  # fmt: skip
    assert str(caught.value) == ABSENT_PRIVILEGED_GROUP.format(group="colour=A & sex=M")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"y_true": [0, 1, 2], "y_pred": [0, 1, 1]},
            NOT_BINARY.format(count=3, labels=[0, 1, 2]),
        ),
        (
            {"y_true": ["no", "yes", "no"], "y_pred": ["no", "no", "yes"], "pos_label": "Yes"},
            UNKNOWN_POS_LABEL.format(pos_label="Yes", labels=["no", "yes"]),
        ),
        (
            {"y_true": [0, 1], "y_pred": [0, 1, 1]},
            LENGTHS_DIFFER.format(lengths={"y_true": 2, "y_pred": 3, "sensitive feature 'sex'": 3}),
        ),
        (
            {"sensitive": {"sex": ["F", None, "M"]}},
            MISSING_VALUES.format(name="sensitive feature 'sex'", count=1, row=1),
        ),
        (
            {"sensitive": {"age": [30.0, 41.0, float("nan")]}},
            MISSING_VALUES.format(name="sensitive feature 'age'", count=1, row=2),
        ),
        (
            {"features": ["sex", "race"]},
            UNKNOWN_FEATURE.format(where="features", name="race", declared=["sex"]),
        ),
        (
            {"min_group_size": 0},
            BAD_PARAMETER.format(
                name="min_group_size", function="fairness_metrics", expected="an int ≥ 1", value=0
            ),
        ),
        (
            {"confidence": 95.0},
            BAD_PARAMETER.format(
                name="confidence",
                function="fairness_metrics",
                expected="a number in (0, 1)",
                value=95.0,
            ),
        ),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(arguments: dict[str, Any], message: str) -> None:
    call: dict[str, Any] = {
        "y_true": [0, 1, 1],
        "y_pred": [0, 1, 0],
        "sensitive": {"sex": ["F", "M", "M"]},
        "pos_label": 1,
    }
    call.update(arguments)
    options = {k: v for k, v in call.items() if k not in ("y_true", "y_pred", "sensitive")}
    with pytest.raises(ValueError) as caught:
        fairness_metrics(call["y_true"], call["y_pred"], call["sensitive"], seed=0, **options)
    assert str(caught.value) == message


def test_mixed_type_and_boolean_groups() -> None:
    mixed = np.array(["x", 1, "x", 1, 2.5, 2.5] * 10, dtype=object)
    flags = np.array([True, False] * 30)
    y = np.array([1, 0, 0, 1, 1, 1] * 10)
    result = fairness_metrics(
        y, y[::-1], {"m": mixed, "f": flags}, pos_label=1, seed=0, n_bootstrap=0, min_group_size=1
    )
    values = [dict(g.values) for g in result.groups]
    assert {v["m"] for v in values} == {"x", 1, 2.5}
    assert all(type(v["f"]) is bool for v in values)
    assert sum(g.size for g in result.groups) == 60


def test_to_json_holds_plain_values_only() -> None:
    y_true, y_pred, sensitive, _ = _dataset("intersection", 9)
    result = fairness_metrics(
        y_true, y_pred, sensitive, pos_label=np.int64(1), seed=0, n_bootstrap=20,
        privileged={"colour": np.str_("White"), "sex": "Male"},
    )  # fmt: skip
    data = result.to_json()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            assert all(type(k) is str for k in value)
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        else:
            assert value is None or type(value) in (str, int, float, bool), repr(value)

    walk(data)
    assert json.loads(json.dumps(data)) == data
    assert data["pos_label"] == 1 and data["privileged"]["privileged"] == "colour=White & sex=Male"
    assert data["groups"][0]["values"] == {"colour": "Asian", "sex": "Female"}


def _same(a: Any, b: Any) -> bool:
    """Equality that treats NaN as equal to NaN."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _ci(result: FairnessResult, metric: str) -> tuple[float, float]:
    disparity = result.disparities[metric]
    return disparity.ci_low, disparity.ci_high


@pytest.mark.parametrize("stratified", [True, False])
def test_bootstrap_is_deterministic_by_seed(stratified: bool) -> None:
    y_true, y_pred, sensitive, _ = _dataset("intersection", 10)

    def run(seed: int) -> FairnessResult:
        return fairness_metrics(
            y_true, y_pred, sensitive, pos_label=1, seed=seed, n_bootstrap=300,
            stratified=stratified, privileged={"colour": "White", "sex": "Male"},
        )  # fmt: skip

    first = run(7)
    assert _same(run(7).to_json(), first.to_json())
    assert not _same(run(8).to_json(), first.to_json())
    assert first.n_bootstrap == 300 and first.stratified is stratified


def test_intervals_contain_the_estimate_and_shrink_with_more_data() -> None:
    widths = []
    for n_scale in (1, 16):
        rng = np.random.default_rng(11)
        n = 600 * n_scale
        group = rng.choice(["a", "b", "c"], size=n)
        y_true = rng.random(n) < 0.4
        y_pred = rng.random(n) < np.where(group == "a", 0.5, 0.35)
        result = fairness_metrics(
            y_true, y_pred, {"g": group}, pos_label=True, seed=0, privileged={"g": "a"}
        )
        assert result.privileged is not None
        disparities = [*result.disparities.values(), *result.all_groups_disparities.values()]
        for comparison in (result.privileged.pooled, *result.privileged.by_group):
            disparities += [comparison.disparate_impact, comparison.statistical_parity_difference]
        for d in disparities:
            assert d.ci_low <= d.value <= d.ci_high, d
            assert d.ci_resamples == 1000
        widths.append(np.subtract(*_ci(result, "demographic_parity_difference"))[()])
        assert result.warnings == ()
    assert abs(widths[1]) < abs(widths[0]) / 2.5  # about 1/4 for 16 times the rows


@pytest.mark.parametrize("stratified", [True, False])
def test_count_resampling_matches_row_resampling(stratified: bool) -> None:
    """Drawing multinomial counts is resampling rows: compare with an explicit row bootstrap."""
    rng = np.random.default_rng(12)
    group = np.repeat([0, 1, 2], [150, 100, 50])
    y_pred = rng.random(group.size) < np.array([0.5, 0.35, 0.3])[group]
    y_true = np.zeros(group.size, dtype=int)
    n_bootstrap = 4000
    result = fairness_metrics(
        y_true, y_pred.astype(int), {"g": group}, pos_label=1, seed=1, n_bootstrap=n_bootstrap,
        stratified=stratified,
    )  # fmt: skip
    draws = np.random.default_rng(2)
    if stratified:
        rates = []
        for g in range(3):
            rows = np.flatnonzero(group == g)
            picked = draws.choice(rows, size=(n_bootstrap, rows.size))
            rates.append(y_pred[picked].mean(axis=1))
        rate = np.stack(rates, axis=1)
    else:
        picked = draws.integers(0, group.size, size=(n_bootstrap, group.size))
        selected = np.stack([(y_pred[picked] & (group[picked] == g)).sum(1) for g in range(3)], 1)
        sizes = np.stack([(group[picked] == g).sum(1) for g in range(3)], 1)
        rate = selected / sizes
    spread = rate.max(axis=1) - rate.min(axis=1)
    expected = np.percentile(spread, [2.5, 97.5])
    assert _ci(result, "demographic_parity_difference") == pytest.approx(expected, abs=0.015)


def test_fifty_thousand_rows_and_many_intersections_run_quickly() -> None:
    rng = np.random.default_rng(13)
    n = 50_000
    sensitive = {"a": rng.integers(0, 6, n), "b": rng.choice(["x", "y", "z"], n)}
    y_true, y_pred = rng.random(n) < 0.3, rng.random(n) < 0.3
    results = fairness_by_grouping(y_true, y_pred, sensitive, pos_label=True, seed=0)
    assert [len(r.groups) for r in results] == [6, 3, 18]
    assert all(r.disparities["equalized_odds_ratio"].ci_resamples == 1000 for r in results)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 4), st.integers(20, 120))
def test_invariant_to_row_order_and_valid_ranges(seed: int, groups: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    group = rng.integers(0, groups, n)
    y_true, y_pred = rng.integers(0, 2, n), rng.integers(0, 2, n)
    order = rng.permutation(n)

    def run(rows: Any) -> FairnessResult:
        return fairness_metrics(
            y_true[rows], y_pred[rows], {"g": group[rows]}, pos_label=1, seed=seed % 100,
            n_bootstrap=30, min_group_size=5, privileged={"g": int(group[0])},
        )  # fmt: skip

    result = run(np.arange(n))
    assert _same(run(order).to_json(), result.to_json())
    for d in result.all_groups_disparities.values():  # rates' spreads and ratios lie in [0, 1]
        assert math.isnan(d.value) or 0.0 <= d.value <= 1.0
    assert result.privileged is not None
    pooled = result.privileged.pooled.statistical_parity_difference.value
    assert -1.0 <= pooled <= 1.0


def test_every_public_name_is_importable_from_one_module() -> None:
    """The statistics live in three modules; ``assay.stats.fairness`` is the one import path."""
    import assay.stats.fairness as fairness
    import assay.stats.fairness_bootstrap as bootstrap
    import assay.stats.fairness_results as results

    assert len(set(fairness.__all__)) == len(fairness.__all__)
    for name in fairness.__all__:
        value = getattr(fairness, name)
        for module in (results, bootstrap):
            if hasattr(module, name):
                assert getattr(module, name) is value, name
