"""Drill plumbing: the clock a drill moves or waits on, the HTTP client of the service under
test, and the seeded synthetic traffic that must trip each signal (:mod:`assay.monitor.drills`)."""

from __future__ import annotations

import json
import math
import string
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import numpy as np

from assay.errors import AssayError
from assay.monitor.clock import ManualClock
from assay.privacy.validators import luhn_valid
from assay.profiles.baseline import Baseline, CategoricalSummary, ColumnSummary, NumericSummary
from assay.spec.monitor import DRILL_SCENARIOS, Monitor

FORMAT = 1
ACTION_DEADLINE_S = 30.0
"""Real seconds, from the end of the drill traffic that closed a rule's window, within which
the rule's incident must be open and every one of its actions logged with outcome ``ok``
(an action with a webhook is ``ok`` once the webhook was delivered)."""
ESCALATION_SLACK_S = 10.0
"""Real seconds the drill waits, after an acknowledgement deadline has passed on the service's
clock, for the escalation to be on the timeline (and its webhook delivered)."""
DEFAULT_TIMEOUT_S = 300.0
"""Real seconds one scenario may take in all, waits included."""
SHIFT_STDS = 4.0
"""``input_shift`` moves every numeric feature this many reference standard deviations
(kept inside the reference's range, so the traffic is shifted, not out of distribution)."""
TIME_WINDOW_UNITS = 500
"""Units (events, labels) sent for a rule whose window is a time window only."""
BATCH_EVENTS = 500
SESSIONS = 16
BACKGROUND_KEYS = 4
BURST_SHARE = 0.9
"""Share of the burst window's events the bursting key sends (``security_anomaly``)."""
LOW_SHARE = 0.02
"""Its share before the burst: its baseline rate."""
SYNC_STEPS = 20
"""Before the burst, background traffic goes in steps of 1/SYNC_STEPS of the window until a
window closes, so the burst fills a window of its own."""
NUDGE_AFTER_S = 2.0
"""On a manual clock, real seconds a webhook may wait in the outbox before the drill moves the
clock past the outbox's retry or re-claim (see :meth:`_Drill.nudge_outbox`)."""
DRILL_ACTOR = "assay drill"
AUTH_METRICS = frozenset({"auth_failures", "unknown_keys"})
"""``security_anomaly`` metrics of the ``auth`` subject; the others are per key id."""
SUBJECTS = {
    "input_shift": "inputs",
    "accuracy_drop": "model",
    "latency_spike": "latency",
    "suspicious_output": "model",
}
NOT_A_NUMBER = "not-a-number"
_LOWER_ALNUM = string.ascii_lowercase + string.digits
_URLSAFE = string.ascii_letters + string.digits + "-_"


class DrillSetupError(AssayError):
    """The drill cannot start: an unreachable service, a missing or weak key, a bad option
    (exit code 2)."""


class _ScenarioError(Exception):
    """Stops a scenario with a failure message (the record keeps it)."""


# ------------------------------------------------------------------------------------ time


class ManualTime:
    """The service runs on a :class:`ManualClock` in this process: the drill moves it."""

    manual = True

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.scale = math.inf

    def real_seconds(self, service_seconds: float) -> float:
        return 0.0

    def pass_time(self, service_seconds: float) -> None:
        if service_seconds > 0:
            self.clock.advance(service_seconds)


class WallTime:
    """The service's clock runs ``scale`` times faster than real time (``--time-scale``)."""

    manual = False

    def __init__(self, scale: float = 1.0) -> None:
        if not (math.isfinite(scale) and scale > 0):
            raise DrillSetupError(f"--time-scale {scale} must be a positive number")
        self.scale = scale

    def real_seconds(self, service_seconds: float) -> float:
        return max(service_seconds, 0.0) / self.scale

    def pass_time(self, service_seconds: float) -> None:
        time.sleep(self.real_seconds(service_seconds))


class TimeControl(Protocol):
    manual: bool
    scale: float

    def real_seconds(self, service_seconds: float) -> float: ...

    def pass_time(self, service_seconds: float) -> None: ...


# ---------------------------------------------------------------------------- the target


@dataclass
class Target:
    """Where drills run: the service's URL, an admin token, how its time moves, where records
    go (``store``: stores one record and says where; ``None``: ``POST /v1/drills``).

    ``in_process``: every request the service sees is the drill's, so every incident opened
    during a drill is the drill's to resolve (against a shared service, only the incidents of
    the rules it drilled are resolved; others are listed in the record)."""

    url: str
    token: str
    time: TimeControl
    store: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    in_process: bool = False
    service_log: Callable[[], list[str]] | None = None
    """In process: takes the warnings and errors the service logged since the last call
    (the record keeps them)."""


@dataclass
class DrillResult:
    """One scenario's record and where it was stored."""

    record: dict[str, Any]
    stored: dict[str, Any] | None = None
    store_error: str | None = None

    @property
    def scenario(self) -> str:
        return str(self.record["scenario"])

    @property
    def passed(self) -> bool:
        return bool(self.record["passed"])


class _Api:
    """The service's HTTP API as the drill uses it: an admin client, an anonymous one for
    the failing requests, 429s retried."""

    def __init__(self, target: Target) -> None:
        self.url = target.url.rstrip("/")
        self.time = target.time
        limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
        self.client = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {target.token}"},
            timeout=30.0,
            limits=limits,
        )
        self.anon = httpx.Client(base_url=self.url, timeout=30.0, limits=limits)
        self.requests = 0

    def close(self) -> None:
        self.client.close()
        self.anon.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        ok: Sequence[int] = (200, 201, 202),
    ) -> httpx.Response:
        content = None
        headers = {}
        if body is not None:
            content = json.dumps(body, separators=(",", ":")).encode()  # NaN as NaN
            headers["Content-Type"] = "application/json"
        for _ in range(50):
            try:
                response = self.client.request(
                    method, path, content=content, params=params, headers=headers
                )
            except httpx.TransportError as exc:
                raise _ScenarioError(f"{method} {self.url}{path} failed: {exc!r}") from None
            self.requests += 1
            if response.status_code != 429:
                break
            wait = _retry_after(response)
            if self.time.manual:
                self.time.pass_time(wait)
            else:
                time.sleep(min(self.time.real_seconds(wait), 2.0))
        if response.status_code not in ok:
            raise _ScenarioError(
                f"{method} {path}: HTTP {response.status_code}: {_error_text(response)}"
            )
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.call(method, path, **kwargs).json()


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(float(response.headers.get("retry-after", "1")), 0.05)
    except ValueError:
        return 1.0


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict) and "error" in body:
        return str(body["error"])
    return json.dumps(body)[:300]


def preflight(target: Target) -> None:
    """Check the service answers and the key is an admin key (:class:`DrillSetupError`)."""
    url = target.url.rstrip("/")
    try:
        with httpx.Client(base_url=url, timeout=10.0) as client:
            client.get("/health")
            response = client.post(
                "/v1/drills", json={}, headers={"Authorization": f"Bearer {target.token}"}
            )
    except httpx.TransportError as exc:
        raise DrillSetupError(
            f"cannot reach the monitor at {url} ({type(exc).__name__}: {exc}). Is `assay "
            "monitor serve` running there? Check --url (scheme, host and port)."
        ) from None
    status = response.status_code
    if status == 401:
        raise DrillSetupError(
            f"the monitor at {url} refuses the key: {_error_text(response)}. Put an admin key "
            "in the --key-env variable (`assay monitor keys create --role admin`)."
        )
    if status == 403:
        raise DrillSetupError(
            f"{_error_text(response)}. A drill resolves incidents and stores its record: give "
            "it an admin key (`assay monitor keys create --role admin`)."
        )
    if status == 404:
        raise DrillSetupError(
            f"the monitor at {url} has no POST /v1/drills: it is not an Assay monitor, or an "
            "older one. Check --url, or upgrade the service."
        )
    if status != 422:  # an admin key gets 422 for the empty record
        raise DrillSetupError(
            f"unexpected answer from {url}/v1/drills: HTTP {status}: {_error_text(response)}"
        )


# -------------------------------------------------------------------------------- traffic


def _visa(rng: np.random.Generator) -> str:
    """A 16-digit Visa-shaped number with a valid Luhn check digit (synthetic)."""
    body = "4" + "".join(str(d) for d in rng.integers(0, 10, 14))
    check = next(str(d) for d in range(10) if luhn_valid(body + str(d)))
    digits = body + check
    return " ".join(digits[i : i + 4] for i in range(0, 16, 4))


def pii_text(rng: np.random.Generator, i: int) -> str:
    """An output text holding a synthetic e-mail address and payment card number that the
    privacy scanner finds (docs/privacy.md)."""
    return (
        f"Done! I mailed the receipt to jane.doe{i}@example.org and charged the card "
        f"{_visa(rng)} for the balance."
    )


class TrafficGenerator:
    """Seeded synthetic events drawn from the baseline: every numeric feature from the
    reference's bins (each bin's share, values around its reference mean), every categorical
    feature from its category shares, nulls at the reference's null share; predictions and
    scores likewise; latencies well under the objective."""

    def __init__(
        self,
        baseline: Baseline,
        monitor: Monitor,
        *,
        seed: int,
        scenario: str,
        run: str,
        normal_latency_ms: float,
    ) -> None:
        self.baseline = baseline
        self.rng = np.random.default_rng([seed, DRILL_SCENARIOS.index(scenario)])
        self.prefix = f"drill-{scenario}-{run}-"
        self.key = f"{self.prefix}k0"
        self.model_version = (monitor.model_versions or ["drill"])[0]
        listed = monitor.detection.features or list(baseline.features)
        self.features = [f for f in listed if f in baseline.columns]
        self.numeric = [f for f in self.features if isinstance(baseline.columns[f], NumericSummary)]
        self.normal_latency_ms = normal_latency_ms
        self.prediction_range = monitor.detection.prediction_range
        self.count = 0
        self.sessions: set[str] = set()

    # columns -------------------------------------------------------------------------------

    def _numeric(self, s: NumericSummary, n: int) -> np.ndarray:
        shares = np.asarray(s.shares, dtype=np.float64)
        p = shares / shares.sum()
        index = self.rng.choice(p.size, size=n, p=p)
        edges = np.asarray(s.edges, dtype=np.float64)
        lows = np.concatenate(([s.min], edges))
        highs = np.concatenate((edges, [s.max]))
        lo, hi = np.minimum(lows, highs), np.maximum(lows, highs)
        means = np.clip(np.asarray(s.means, dtype=np.float64), lo, hi)
        spread = np.minimum(means - lo, hi - means)
        out: np.ndarray = means[index] + self.rng.uniform(-1.0, 1.0, n) * spread[index]
        return out

    def _categories(self, s: CategoricalSummary, n: int) -> list[Any]:
        values: list[Any] = [float(c) if s.numeric_keys else str(c) for c in s.categories]
        shares = list(s.shares)
        if s.other > 0:
            values.append("drill-other")
            shares.append(s.other)
        p = np.asarray(shares, dtype=np.float64)
        p = p / p.sum()
        return [values[i] for i in self.rng.choice(len(values), size=n, p=p).tolist()]

    def _column(self, summary: ColumnSummary, n: int, mode: str) -> list[Any]:
        out: list[Any]
        if isinstance(summary, NumericSummary):
            if mode == "sweep" and summary.max > summary.min:
                values = self.rng.uniform(summary.min, summary.max, n)
            else:
                values = self._numeric(summary, n)
            if mode == "shift" and summary.std > 0:
                if summary.max - summary.mean >= summary.mean - summary.min:
                    values = np.minimum(values + SHIFT_STDS * summary.std, summary.max)
                else:
                    values = np.maximum(values - SHIFT_STDS * summary.std, summary.min)
            out = [float(v) for v in values]
        elif mode == "shift" and len(summary.categories) > 1:
            # Popularity reversed, at the extreme: the rarest listed category takes it all.
            rarest = summary.categories[int(np.argmin(summary.shares))]
            out = [float(rarest) if summary.numeric_keys else str(rarest)] * n
        else:
            out = self._categories(summary, n)
        nulls = self.rng.random(n) < summary.null_share
        return [None if null else value for value, null in zip(out, nulls.tolist(), strict=True)]

    def _outputs(self, summary: ColumnSummary | None, n: int) -> list[float | None]:
        if summary is None:
            return [None] * n
        if isinstance(summary, NumericSummary):
            return [float(v) for v in self._numeric(summary, n)]
        picked = self._categories(summary, n)
        if summary.numeric_keys:
            return [float(v) for v in picked]
        names = [str(c) for c in summary.categories]
        return [float(names.index(v)) if v in names else 0.0 for v in picked]

    # events --------------------------------------------------------------------------------

    def events(
        self,
        n: int,
        *,
        now: float,
        mode: str = "normal",
        latency_ms: float | None = None,
        suspicious: bool = False,
        keys: Sequence[str] | None = None,
        sweep: Sequence[bool] | None = None,
    ) -> list[dict[str, Any]]:
        """``n`` events. ``mode``: ``normal``, ``shift`` (input shift). ``latency_ms``: a
        spike around that value. ``suspicious``: PII text, invalid predictions and
        out-of-distribution inputs. ``keys``: each event's key id (default: the drill's
        key). ``sweep``: events whose numeric inputs sweep the reference's range."""
        columns = {f: self._column(self.baseline.columns[f], n, mode) for f in self.features}
        if sweep is not None and any(sweep):
            swept = {f: self._column(self.baseline.columns[f], n, "sweep") for f in self.numeric}
            for f, values in swept.items():
                columns[f] = [
                    s if on else v for s, v, on in zip(values, columns[f], sweep, strict=True)
                ]
        predictions = self._outputs(self.baseline.prediction_summary, n)
        if self.baseline.prediction_summary is None and self.baseline.score_summary is None:
            predictions = [float(v) for v in self.rng.integers(0, 2, n)]
        scores = self._outputs(self.baseline.score_summary, n)
        if latency_ms is None:
            base = self.normal_latency_ms
            latencies = self.rng.uniform(0.2 * base, 0.5 * base, n)
        else:
            latencies = self.rng.uniform(latency_ms, 1.2 * latency_ms, n)
        out = []
        for i in range(n):
            number = self.count + i
            session = f"{self.prefix}s{number % SESSIONS}"
            self.sessions.add(session)
            event: dict[str, Any] = {
                "id": f"{self.prefix}{number + 1:07d}",
                "timestamp": now,
                "model_version": self.model_version,
                "session_id": session,
                "api_key_id": keys[i] if keys is not None else self.key,
                "features": {f: columns[f][i] for f in self.features},
                "prediction": predictions[i],
                "score": scores[i],
                "latency_ms": round(float(latencies[i]), 3),
            }
            if suspicious:
                self._make_suspicious(event, number)
            out.append(event)
        self.count += n
        return out

    def _make_suspicious(self, event: dict[str, Any], number: int) -> None:
        event["output_text"] = pii_text(self.rng, number)
        event["prediction"] = self._invalid_prediction(number)
        if number % 2:
            return
        # Every other event carries an out-of-distribution input, rotating over the numeric
        # features: one in four a number a quarter of the range beyond it (either side), the
        # others a value that is not a number where the reference had numbers — which the
        # input-shift detector counts as missing, so the drill does not also look like drift.
        j = number // 2
        features = event["features"]
        if self.numeric:
            k = len(self.numeric)
            name = self.numeric[j % k]
            summary = self.baseline.columns[name]
            assert isinstance(summary, NumericSummary)
            if (j // k) % 4:
                features[name] = NOT_A_NUMBER
            else:
                span = summary.max - summary.min or max(abs(summary.max), 1.0)
                up = (j // (4 * k)) % 2 == 0
                features[name] = summary.max + 0.25 * span if up else summary.min - 0.25 * span
            return
        for name in self.features:
            summary = self.baseline.columns[name]
            if isinstance(summary, CategoricalSummary) and summary.complete:
                features[name] = "drill-unseen-category"
                return

    def _invalid_prediction(self, number: int) -> float:
        if self.prediction_range is not None and number % 2:
            low, high = self.prediction_range
            return high + max(high - low, 1.0)
        if self.baseline.prediction_summary is not None:
            return math.nan
        if self.prediction_range is not None:
            low, high = self.prediction_range
            return high + max(high - low, 1.0)
        return math.inf

    def wrong_label(self, event: dict[str, Any]) -> float:
        """A label the event's prediction gets wrong."""
        prediction, score = event["prediction"], event["score"]
        if prediction is not None and math.isfinite(prediction):
            summary = self.baseline.prediction_summary
            if isinstance(summary, CategoricalSummary) and summary.numeric_keys:
                others = [float(c) for c in summary.categories if float(c) != prediction]
                if others:
                    return others[0]
            value = float(prediction)
            return 1.0 - value if value in (0.0, 1.0) else value + 1.0
        if score is not None and math.isfinite(score):
            return 0.0 if score >= 0.5 else 1.0
        return 1.0

    def unknown_tokens(self, n: int) -> list[str]:
        """``n`` well-formed bearer tokens with key ids the service never issued (``drl…``)."""
        tokens = []
        for _ in range(n):
            key_id = "drl" + "".join(self.rng.choice(list(_LOWER_ALNUM), 9).tolist())
            secret = "".join(self.rng.choice(list(_URLSAFE), 43).tolist())
            tokens.append(f"amk_{key_id}_{secret}")
        return tokens
