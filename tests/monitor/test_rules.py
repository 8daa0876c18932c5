"""Rules: which spec rules an observation fires (signal, window, KPI and condition)."""

from __future__ import annotations

import math

import pytest
from _actions_support import monitor, obs

from assay.monitor.rules import RuleEngine
from assay.spec.monitor import Window, window_key


@pytest.mark.parametrize(
    ("window", "key"),
    [
        ({"events": 2000}, "events=2000"),
        ({"seconds": 300}, "seconds=300"),
        ({"seconds": 0.5}, "seconds=0.5"),
        ({"minutes": 5}, "seconds=300"),
        ({"minutes": 1.5}, "seconds=90"),
        ({"events": 500, "minutes": 2}, "events=500,seconds=120"),
        ({"events": 500, "seconds": 60}, "events=500,seconds=60"),
    ],
)
def test_window_key(window: dict[str, float], key: str) -> None:
    assert window_key(Window.model_validate(window)) == key


def drift_monitor() -> RuleEngine:
    return RuleEngine(
        monitor(
            detection={"window": {"events": 1000}},
            rules=[
                {"name": "drift-major", "signal": "input_shift", "when": "share_drifted > 0.2"},
                {
                    "name": "drift-blocker",
                    "signal": "input_shift",
                    "when": "share_drifted >= 0.5",
                    "severity": "blocker",
                },
                {
                    "name": "drift-fast",
                    "signal": "input_shift",
                    "when": "max_psi > 0.1",
                    "window": {"minutes": 5},
                },
                {"name": "slow", "signal": "latency_spike", "when": "p95_ms > 250"},
            ],
        )
    )


def names(engine: RuleEngine, observation: object) -> list[str]:
    return [rule.name for rule in engine.match(observation)]  # type: ignore[arg-type]


def test_a_rule_fires_when_its_condition_holds_over_its_window() -> None:
    engine = drift_monitor()
    assert names(engine, obs(metrics={"share_drifted": 0.3})) == ["drift-major"]
    # at the boundary: > does not fire, >= does; both in the spec's order
    assert names(engine, obs(metrics={"share_drifted": 0.2})) == []
    assert names(engine, obs(metrics={"share_drifted": 0.5})) == ["drift-major", "drift-blocker"]


def test_the_window_must_be_the_rules_window() -> None:
    engine = drift_monitor()
    hot = {"share_drifted": 0.9, "max_psi": 0.9}
    # drift-major/-blocker watch the detection window (events=1000), drift-fast 5 minutes
    assert names(engine, obs(metrics=hot, window="events=1000")) == ["drift-major", "drift-blocker"]
    assert names(engine, obs(metrics=hot, window="seconds=300")) == ["drift-fast"]
    assert names(engine, obs(metrics=hot, window="events=2000")) == []


def test_the_signal_must_match() -> None:
    engine = drift_monitor()
    assert names(engine, obs("latency_spike", {"p95_ms": 300.0})) == ["slow"]
    assert names(engine, obs("score_shift", {"psi": 9.0, "share_drifted": 0.9})) == []


def test_a_metric_missing_or_nan_never_fires() -> None:
    engine = RuleEngine(
        monitor(
            rules=[
                {"name": "acc", "signal": "accuracy_drop", "when": "accuracy < 0.8"},
                {"name": "acc-ne", "signal": "accuracy_drop", "when": "error_rate != 0"},
            ]
        )
    )
    assert names(engine, obs("accuracy_drop", {"accuracy_drop": 0.3})) == []
    nan = {"accuracy": math.nan, "error_rate": math.nan}
    assert names(engine, obs("accuracy_drop", nan)) == []
    assert names(engine, obs("accuracy_drop", {"accuracy": 0.7, "error_rate": 0.3})) == [
        "acc",
        "acc-ne",
    ]
    reasons = {c.rule: c.reason for c in engine.explain(obs("accuracy_drop", nan))}
    assert reasons == {
        "acc": "accuracy is NaN (nothing measured)",
        "acc-ne": "error_rate is NaN (nothing measured)",
    }


def test_a_kpi_rule_watches_its_kpi_or_all() -> None:
    engine = RuleEngine(
        monitor(
            kpis={"conversion": {"min": 0.02}, "approval": {"min": 0.5, "max": 0.9}},
            rules=[
                {
                    "name": "conversion-low",
                    "signal": "kpi_out_of_band",
                    "when": "deviation > 0",
                    "kpi": "conversion",
                    "window": {"minutes": 10},
                },
                {
                    "name": "any-kpi",
                    "signal": "kpi_out_of_band",
                    "when": "deviation > 0",
                    "window": {"minutes": 10},
                },
            ],
        )
    )
    out = {"value": 0.01, "deviation": 0.01}
    conversion = obs("kpi_out_of_band", out, subject="conversion", window="seconds=600")
    approval = obs("kpi_out_of_band", out, subject="approval", window="seconds=600")
    assert names(engine, conversion) == ["conversion-low", "any-kpi"]
    assert names(engine, approval) == ["any-kpi"]
    why = {c.rule: c.reason for c in engine.explain(approval)}
    assert why["conversion-low"] == "watches KPI 'conversion', not 'approval'"


def test_explain_says_why_each_rule_did_or_did_not_fire() -> None:
    engine = drift_monitor()
    checks = engine.explain(obs(metrics={"share_drifted": 0.3}))
    assert [(c.rule, c.fired) for c in checks] == [
        ("drift-major", True),
        ("drift-blocker", False),
        ("drift-fast", False),
    ]
    assert checks[0].reason == "share_drifted = 0.3; share_drifted > 0.2"
    assert checks[0].observed == 0.3
    assert checks[1].reason == "share_drifted = 0.3; not share_drifted >= 0.5"
    assert checks[2].reason == "watches window seconds=300, not events=1000"


def test_watched_lists_what_the_detectors_must_measure() -> None:
    engine = drift_monitor()
    assert engine.watched() == {
        ("input_shift", "events=1000"),
        ("input_shift", "seconds=300"),
        ("latency_spike", "events=1000"),
    }
    assert set(engine.windows()) == {"events=1000", "seconds=300"}
    assert engine.windows()["seconds=300"].minutes == 5
