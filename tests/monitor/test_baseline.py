"""The live watch's baseline: bins, shares and categories from a real profile, and its file."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
from _detectors_support import NUMERIC, baseline, reference_table

import assay
from assay.profiles.baseline import (
    MAX_CATEGORIES,
    Baseline,
    CategoricalSummary,
    NumericSummary,
)


def numeric(b: Baseline, name: str) -> NumericSummary:
    summary = b.columns[name]
    assert isinstance(summary, NumericSummary)
    return summary


def categorical(b: Baseline, name: str) -> CategoricalSummary:
    summary = b.columns[name]
    assert isinstance(summary, CategoricalSummary)
    return summary


def test_numeric_edges_shares_and_means_are_the_exact_deciles() -> None:
    table = reference_table()
    x = table["x3"].to_numpy()
    s = numeric(baseline(), "x3")
    edges = np.quantile(x, np.linspace(0, 1, 11)[1:-1], method="inverted_cdf")
    np.testing.assert_array_equal(s.edges, edges)
    index = np.searchsorted(edges, x, side="right")
    counts = np.bincount(index, minlength=10)
    np.testing.assert_allclose(s.shares, counts / x.size)
    np.testing.assert_allclose(s.means, [x[index == i].mean() for i in range(10)])
    assert s.min == x.min() and s.max == x.max()
    assert s.std == pytest.approx(x.std()) and s.mean == pytest.approx(x.mean())
    assert s.exact and s.count == x.size and s.null_share == 0.0 and s.bins == 10


def test_sketched_profile_gives_nearly_the_same_shares() -> None:
    table = reference_table()
    sketched = Baseline.from_profile(
        assay.profile(table, exact_limit=0),
        features=["x3"],
        target=None,
        prediction=None,
        score=None,
    )
    s, exact = numeric(sketched, "x3"), numeric(baseline(), "x3")
    assert not s.exact
    np.testing.assert_allclose(s.edges, exact.edges, atol=0.05)
    np.testing.assert_allclose(s.shares, 0.1, atol=0.01)
    assert sum(s.shares) == pytest.approx(1.0)


def test_null_share_and_duplicate_edges() -> None:
    x = np.array([1.0] * 60 + [2.0] * 30 + [np.nan] * 10)
    table = pa.table({"x": x, "y": np.arange(100.0)})
    b = Baseline.from_profile(
        assay.profile(table), features=["x"], target=None, prediction=None, score=None, bins=10
    )
    s = numeric(b, "x")
    assert s.null_share == pytest.approx(0.1)
    assert s.edges == (1.0, 2.0)  # nine deciles, deduplicated
    assert s.shares == pytest.approx((0.0, 60 / 90, 30 / 90))
    assert s.means[1:] == (1.0, 2.0)


def test_categories_with_other_share() -> None:
    colour = categorical(baseline(), "colour")
    table = reference_table()
    values, counts = np.unique(table["colour"].to_numpy(zero_copy_only=False), return_counts=True)
    expected = dict(zip(values.tolist(), (counts / counts.sum()).tolist(), strict=True))
    assert dict(zip(colour.categories, colour.shares, strict=True)) == pytest.approx(expected)
    assert colour.complete and colour.other == 0.0 and not colour.numeric_keys
    assert colour.categories[0] == "red"  # commonest first

    n = 6000
    many = [f"c{i % 80}" for i in range(n)]  # 80 categories of 75 each
    b = Baseline.from_profile(
        assay.profile(pa.table({"c": many})),
        features=["c"],
        target=None,
        prediction=None,
        score=None,
    )
    s = categorical(b, "c")
    assert len(s.categories) == MAX_CATEGORIES and not s.complete
    assert s.other == pytest.approx(30 / 80)
    assert sum(s.shares) + s.other == pytest.approx(1.0)


def test_integer_and_boolean_columns_have_numeric_categories() -> None:
    table = pa.table({"level": [1, 2, 2, 3] * 50, "flag": [True, False, True, True] * 50})
    b = Baseline.from_profile(
        assay.profile(table), features=None, target=None, prediction=None, score=None
    )
    level, flag = categorical(b, "level"), categorical(b, "flag")
    assert level.numeric_keys and set(level.categories) == {1.0, 2.0, 3.0}
    assert dict(zip(flag.categories, flag.shares, strict=True)) == {1.0: 0.75, 0.0: 0.25}


def test_default_features_leave_out_target_outputs_and_text() -> None:
    b = baseline()
    assert b.features == (*NUMERIC, "colour")
    assert {"label", "pred", "score"}.isdisjoint(b.features)
    assert isinstance(b.score_summary, NumericSummary)
    assert isinstance(b.prediction_summary, CategoricalSummary)  # 0/1 integers

    # 60 common notes and 1,200 one-off ones: more distinct values than a category column
    notes = [f"common {i % 60}" for i in range(1800)] + [f"one-off {i}" for i in range(1200)]
    table = pa.table({"note": notes, "x": np.arange(float(len(notes)))})
    profile = assay.profile(table)
    default = Baseline.from_profile(
        profile, features=None, target=None, prediction=None, score=None
    )
    assert default.features == ("x",)
    assert "text" in default.skipped["note"]
    listed = Baseline.from_profile(
        profile, features=["note"], target=None, prediction=None, score=None
    )
    assert listed.features == ("note",)
    note = categorical(listed, "note")
    assert len(note.categories) == MAX_CATEGORIES and not note.complete
    assert all(str(c).startswith("common") for c in note.categories)
    assert note.other == pytest.approx(1 - sum(note.shares))


def test_a_listed_feature_missing_from_the_profile_is_an_error() -> None:
    profile = assay.profile(pa.table({"x": [1.0, 2.0]}))
    with pytest.raises(ValueError, match=r"no column 'nope'.*its columns: x"):
        Baseline.from_profile(profile, features=["nope"], target=None, prediction=None, score=None)
    # A reference without the model's outputs: no score summary, and the reason recorded.
    b = Baseline.from_profile(profile, features=None, target="y", prediction="p", score="s")
    assert b.features == ("x",) and b.score_summary is None and b.prediction_summary is None
    assert b.skipped == {"p": "not in the reference profile", "s": "not in the reference profile"}
    with pytest.raises(ValueError, match="bins"):
        Baseline.from_profile(
            profile, features=None, target=None, prediction=None, score=None, bins=1
        )


def test_all_null_column_is_skipped() -> None:
    table = pa.table({"x": pa.array([None] * 10, pa.float64()), "y": np.arange(10.0)})
    b = Baseline.from_profile(
        assay.profile(table), features=None, target=None, prediction=None, score=None
    )
    assert b.features == ("y",)
    assert b.skipped == {"x": "no values in the reference"}


def test_json_round_trip_is_versioned() -> None:
    b = baseline()
    raw = b.to_json()
    data = json.loads(raw)
    assert data["format"] == 1
    assert Baseline.from_json(raw) == b
    assert Baseline.from_json(raw).to_json() == raw
    data["format"] = 2
    with pytest.raises(ValueError, match=r"format 2 .*readable formats: 1"):
        Baseline.from_json(json.dumps(data).encode())
    with pytest.raises(ValueError, match="not an Assay baseline"):
        Baseline.from_json(b"{oops")
    del data["columns"]
    data["format"] = 1
    with pytest.raises(ValueError, match="damaged"):
        Baseline.from_json(json.dumps(data).encode())


def test_baseline_is_compact() -> None:
    assert len(baseline().to_json()) < 10_000
