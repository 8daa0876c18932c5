"""Parsing the fault-injection options, and the faults a server injects, measured."""

from __future__ import annotations

import random
import time

import pytest

from assay.errors import AssayError
from assay.serving import (
    Faults,
    Stall,
    create_app,
    parse_error_rate,
    parse_latency,
    parse_stall,
    running,
)
from assay.serving._faults import BAD_DURATION, BAD_ERROR_RATE, BAD_LATENCY, BAD_STALL
from assay.sources.models import Model
from conftest import call

ROWS = {"instances": [{"x1": 0.1, "x2": -0.3, "x3": 0.5, "region": "north"}]}


@pytest.mark.parametrize(
    ("text", "kind", "params"),
    [
        ("fixed:20ms", "fixed", (0.02,)),
        ("fixed:1.5s", "fixed", (1.5,)),
        ("normal:20ms,5ms", "normal", (0.02, 0.005)),
        ("lognormal:20ms,0.5", "lognormal", (0.02, 0.5)),
        ("uniform:10ms, 50ms", "uniform", (0.01, 0.05)),
        ("exponential:500us", "exponential", (0.0005,)),
    ],
)
def test_latency_distributions_parse(text: str, kind: str, params: tuple[float, ...]) -> None:
    latency = parse_latency(text)
    assert latency.kind == kind
    assert latency.params == pytest.approx(params)


def test_latency_draws_follow_the_distribution() -> None:
    rng = random.Random(0)
    normal = [parse_latency("normal:20ms,5ms").draw(rng) for _ in range(4000)]
    assert sum(normal) / len(normal) == pytest.approx(0.02, abs=0.0005)
    assert min(normal) >= 0
    lognormal = sorted(parse_latency("lognormal:20ms,0.5").draw(rng) for _ in range(4001))
    assert lognormal[2000] == pytest.approx(0.02, rel=0.05)  # the median
    uniform = [parse_latency("uniform:10ms,50ms").draw(rng) for _ in range(1000)]
    assert min(uniform) >= 0.01 and max(uniform) <= 0.05


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("20ms", BAD_LATENCY.format(text="20ms")),
        ("gamma:20ms", BAD_LATENCY.format(text="gamma:20ms")),
        ("normal:20ms", BAD_LATENCY.format(text="normal:20ms")),
        ("fixed:20", BAD_DURATION.format(option="--latency", text="fixed:20", part="20")),
        (
            "normal:20ms,-5ms",
            BAD_DURATION.format(option="--latency", text="normal:20ms,-5ms", part="-5ms"),
        ),
        (
            "uniform:50ms,10ms",
            "--latency 'uniform:50ms,10ms': the low end of a uniform is above its high end. "
            "Write the low end first: uniform:10ms,50ms.",
        ),
        (
            "lognormal:20ms,5ms",
            "--latency 'lognormal:20ms,5ms': the sigma of a lognormal is a number ≥ 0 without "
            "a unit, not '5ms'. Write lognormal:20ms,0.5 for a median of 20 ms.",
        ),
    ],
)
def test_a_malformed_latency_is_refused_with_the_fix(text: str, message: str) -> None:
    with pytest.raises(AssayError) as info:
        parse_latency(text)
    assert str(info.value) == message
    assert info.value.exit_code == 2


def test_error_rates_and_stalls_parse() -> None:
    assert parse_error_rate("0.05") == 0.05
    assert parse_error_rate("5%") == pytest.approx(0.05)
    assert parse_stall("1s/10s") == Stall(1.0, 10.0, "1s/10s")
    for text in ("1.5", "-0.1", "lots"):
        with pytest.raises(AssayError, match="is not a share") as info:
            parse_error_rate(text)
        assert str(info.value) == BAD_ERROR_RATE.format(text=text)
    for text in ("1s", "10s/1s", "1s/1s", "0s/1s"):
        with pytest.raises(AssayError) as info:
            parse_stall(text)
        assert str(info.value) == BAD_STALL.format(text=text)
    with pytest.raises(AssayError) as info:
        parse_stall("1x/10s")
    assert str(info.value) == BAD_DURATION.format(option="--stall", text="1x/10s", part="1x")


def test_a_stall_blocks_requests_in_its_window_only() -> None:
    stall = Stall(1.0, 10.0)
    assert stall.wait(0.5) == 0  # the first stall begins one period after the start
    assert stall.wait(10.25) == pytest.approx(0.75)
    assert stall.wait(11.5) == 0
    assert stall.wait(20.0) == pytest.approx(1.0)


def test_faults_are_seeded() -> None:
    def draws(seed: int) -> list[tuple[float, float, bool]]:
        faults = Faults(latency=parse_latency("normal:20ms,5ms"), error_rate=0.3, seed=seed)
        return [faults.draw() for _ in range(50)]

    assert draws(1) == draws(1) != draws(2)


# --------------------------------------------------------------------------- measured on a server


def test_fixed_latency_adds_at_least_the_delay(good_model: Model) -> None:
    faults = Faults(latency=parse_latency("fixed:60ms"))
    with running(create_app(good_model, faults=faults)) as served:
        for _ in range(3):
            began = time.perf_counter()
            status, headers, _ = call(served.url + "/predict", ROWS)
            assert time.perf_counter() - began >= 0.06
            assert status == 200 and headers["X-Assay-Injected-Delay-Ms"] == "60.0"
        status, _, _ = call(served.url + "/health")  # faults touch predictions only
        assert status == 200


def test_the_error_rate_is_the_share_of_failed_predictions(good_model: Model) -> None:
    faults = Faults(error_rate=0.2, seed=3)
    n = 300
    with running(create_app(good_model, faults=faults)) as served:
        answers = [call(served.url + "/predict", ROWS) for _ in range(n)]
        _, _, metrics = call(served.url + "/metrics")
    failed = [a for a in answers if a[0] == 500]
    assert {a[0] for a in answers} == {200, 500}
    assert 0.2 - 0.07 <= len(failed) / n <= 0.2 + 0.07
    assert all(a[1]["X-Assay-Injected-Error"] == "1" for a in failed)
    assert b"injected fault" in failed[0][2]
    text = metrics.decode()
    assert f"assay_serve_injected_errors_total {len(failed)}\n" in text
    assert f"assay_serve_errors_total {len(failed)}\n" in text


def test_a_stall_blocks_requests_until_its_window_ends(good_model: Model) -> None:
    faults = Faults(stall=parse_stall("500ms/1s"))
    with running(create_app(good_model, faults=faults)) as served:
        window = faults.started + 1.0  # the first stall: [1 s, 1.5 s) after the start
        status, headers, _ = call(served.url + "/predict", ROWS)
        assert status == 200
        time.sleep(max(0.0, window + 0.05 - time.monotonic()))
        status, headers, _ = call(served.url + "/predict", ROWS)
        done = time.monotonic()
    assert status == 200
    assert done >= window + 0.5  # it waited for the end of the stall
    assert float(headers["X-Assay-Injected-Delay-Ms"]) > 0
