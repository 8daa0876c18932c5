"""The ``monitor:`` section of ``assay.yaml``: live signals, rules, actions and escalation.

After launch the audit's reference profile, thresholds and owners become the live watch. A
*signal* is something a detector measures over a window of live traffic (``input_shift``,
``latency_spike``…); a *rule* says when a signal's metric is bad enough to act, which
automated *actions* then run, who owns the incident and how long a human has to acknowledge
it before it escalates::

    monitor:
      baseline: approved            # the audit run whose reference profile is the watch
      rules:
        - name: inputs-drifted
          signal: input_shift
          when: share_drifted > 0.2
          window: {events: 2000}
          severity: major
          owner: ml-oncall@example.com
          actions: [snapshot, alert, retrain]
          ack_within_minutes: 15
          runbook: https://wiki.example.com/runbooks/drift
      escalation:
        - {name: on-call, webhook: https://hooks.example.com/oncall}
        - {name: head of ML, webhook: https://hooks.example.com/head, after_minutes: 30}

Every signal, action and metric name is checked when the spec loads; a typo is an error with
its line, never a rule that silently never fires.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from assay._vocabulary import Severity
from assay.spec._base import _Model

#: Signal name → the metrics its detector reports (a rule's ``when`` compares one of them).
SIGNALS: dict[str, tuple[str, ...]] = {
    # Per-feature drift of the inputs against the audited reference profile.
    "input_shift": ("share_drifted", "max_psi", "max_wasserstein"),
    # Label-free proxy: the score (confidence) distribution against the reference's.
    "score_shift": ("psi", "wasserstein"),
    # Once delayed labels arrive: accuracy against the audited accuracy.
    "accuracy_drop": ("accuracy", "accuracy_drop", "error_rate"),
    # Windowed latency percentiles against the objective.
    "latency_spike": ("p50_ms", "p95_ms", "p99_ms", "p95_ratio", "p99_ratio"),
    # PII in output text, NaN or out-of-range predictions, out-of-distribution inputs.
    "suspicious_output": ("pii_rate", "invalid_rate", "ood_rate", "suspicious_rate"),
    # Authentication-failure bursts, unknown keys, keys querying far above their baseline.
    "security_anomaly": ("auth_failures", "unknown_keys", "key_rate_ratio", "key_spread"),
    # A business KPI leaving its expected band.
    "kpi_out_of_band": ("value", "deviation"),
}

#: Automated actions, each idempotent and recorded in the action log.
ACTIONS = (
    "snapshot",  # capture the window's events into the evidence repository (text masked)
    "alert",  # Alertmanager-compatible webhook
    "retrain",  # a durable retraining job plus its webhook
    "route_fallback",  # flip the route to the fallback model
    "notify_engineering",  # webhook to engineering
    "autoscale",  # call the autoscaling hook (webhook or command)
    "degraded_mode",  # switch the degraded-mode flag on
    "quarantine_sessions",  # hold the outputs of the sessions involved for review
    "revoke_keys",  # revoke the API keys involved (401 from then on)
    "forensic_logging",  # full request capture for the keys involved, for a set time
)

DRILL_SCENARIOS = (
    "input_shift",
    "accuracy_drop",
    "latency_spike",
    "suspicious_output",
    "security_anomaly",
)
"""Scenarios ``assay monitor drill`` injects; each exercises the signal of the same name."""

_CONDITION = re.compile(
    r"^\s*(?P<metric>[a-z_][a-z0-9_]*)\s*(?P<op>>=|<=|>|<|==|!=)\s*"
    r"(?P<value>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*$"
)


class Condition(_Model):
    """``metric op value``, parsed from a rule's ``when``."""

    metric: str
    op: Literal[">", ">=", "<", "<=", "==", "!="]
    value: float

    def holds(self, observed: float) -> bool:
        ops = {
            ">": observed > self.value,
            ">=": observed >= self.value,
            "<": observed < self.value,
            "<=": observed <= self.value,
            "==": observed == self.value,
            "!=": observed != self.value,
        }
        return ops[self.op]

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"


def parse_condition(text: str) -> Condition:
    """``"share_drifted > 0.2"`` → :class:`Condition`; ``ValueError`` naming the form."""
    match = _CONDITION.match(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not a condition; write METRIC OP NUMBER, for example "
            "'share_drifted > 0.2' (OP is one of > >= < <= == !=)"
        )
    return Condition(
        metric=match["metric"],
        op=match["op"],
        value=float(match["value"]),
    )


class Window(_Model):
    """A count window (``events``), a time window (``seconds``/``minutes``), or both — the
    window then closes at whichever comes first."""

    events: int | None = Field(default=None, ge=10, le=10_000_000)
    seconds: float | None = Field(default=None, gt=0)
    minutes: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_length(self) -> Window:
        if self.seconds is not None and self.minutes is not None:
            raise ValueError("give the window in `seconds` or in `minutes`, not both")
        if self.events is None and self.seconds is None and self.minutes is None:
            raise ValueError("a window needs `events`, `seconds` or `minutes`")
        return self

    @property
    def duration_s(self) -> float | None:
        if self.minutes is not None:
            return self.minutes * 60.0
        return self.seconds


def window_key(window: Window) -> str:
    """The window as observations name it: ``events=2000``, ``seconds=300`` (minutes are
    converted), or ``events=2000,seconds=300`` for a window that closes at whichever comes
    first. Seconds are written with ``:g`` (``300``, ``0.5``)."""
    parts = []
    if window.events is not None:
        parts.append(f"events={window.events}")
    duration = window.duration_s
    if duration is not None:
        parts.append(f"seconds={duration:g}")
    return ",".join(parts)


class Rule(_Model):
    """When ``signal``'s metric meets ``when`` over ``window``: run ``actions``, open or update
    an incident owned by ``owner`` that a human must acknowledge within ``ack_within_minutes``
    before it escalates."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
    signal: str
    when: str
    window: Window | None = None
    severity: Severity = Severity.MAJOR
    owner: str | None = None
    actions: list[str] = Field(default_factory=list)
    ack_within_minutes: float = Field(default=15.0, gt=0)
    runbook: str | None = None
    kpi: str | None = None
    """For ``kpi_out_of_band``: which KPI (a key of ``monitor.kpis``); all of them if unset."""

    @field_validator("signal")
    @classmethod
    def _known_signal(cls, value: str) -> str:
        if value not in SIGNALS:
            raise ValueError(f"unknown signal {value!r}; signals: {', '.join(SIGNALS)}")
        return value

    @field_validator("actions")
    @classmethod
    def _known_actions(cls, value: list[str]) -> list[str]:
        for action in value:
            if action not in ACTIONS:
                raise ValueError(f"unknown action {action!r}; actions: {', '.join(ACTIONS)}")
        if len(set(value)) != len(value):
            raise ValueError("lists an action twice")
        return value

    @model_validator(mode="after")
    def _metric_of_signal(self) -> Rule:
        condition = parse_condition(self.when)
        metrics = SIGNALS[self.signal]
        if condition.metric not in metrics:
            raise ValueError(
                f"`when: {self.when}` names metric {condition.metric!r}, which signal "
                f"{self.signal!r} does not report; its metrics: {', '.join(metrics)}"
            )
        return self

    @property
    def condition(self) -> Condition:
        return parse_condition(self.when)


class EscalationLevel(_Model):
    """Who is paged when an incident is still unacknowledged ``after_minutes`` after the
    level before was paged (for the first level: at the rule's ``ack_within_minutes``
    deadline, so the first level takes no ``after_minutes``)."""

    name: str = Field(min_length=1)
    webhook: str | None = None
    after_minutes: float | None = Field(default=None, gt=0)


class KpiBand(_Model):
    """A business KPI's expected band: declared (``min``/``max``) or learned from a reference
    period (``learn_from_first`` values: mean ± ``sigmas`` standard deviations)."""

    min: float | None = None
    max: float | None = None
    learn_from_first: int | None = Field(default=None, ge=5)
    sigmas: float = Field(default=3.0, gt=0)

    @model_validator(mode="after")
    def _band(self) -> KpiBand:
        if self.min is None and self.max is None and self.learn_from_first is None:
            raise ValueError("a KPI band needs `min`, `max` or `learn_from_first`")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


class Webhooks(_Model):
    """Where actions post. ``alert`` receives Alertmanager-compatible alerts."""

    alert: str | None = None
    retrain: str | None = None
    engineering: str | None = None
    autoscale: str | None = None
    keys_revoked: str | None = None


class ModelRoute(_Model):
    """A model endpoint the gateway forwards ``POST /v1/predict`` bodies to."""

    url: str
    key_env: str | None = Field(default=None, min_length=1)
    """Environment variable holding the model endpoint's key (sent as a bearer token)."""
    timeout: float = Field(default=10.0, gt=0)
    version: str | None = Field(default=None, min_length=1, max_length=100)
    """The model version gateway events are logged with (default: primary or fallback)."""


class Limits(_Model):
    """Ingest limits: the largest batch, queued events before 429, requests/s per key."""

    max_batch: int = Field(default=5000, ge=1, le=100_000)
    max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    max_queue: int = Field(default=200_000, ge=1)
    requests_per_second: float = Field(default=200.0, gt=0)
    burst: int = Field(default=400, ge=1)


class Detection(_Model):
    """Detector settings shared by the rules (a rule's own ``window`` wins)."""

    window: Window = Field(default_factory=lambda: Window(events=1000))
    features: list[str] | None = None
    """Input columns to watch for shift; by default every reference column but the target,
    the prediction and the score."""
    drift_psi: float = Field(default=0.2, gt=0)
    """A feature counts as drifted when its PSI (numeric and categorical) reaches this."""
    prediction_range: tuple[float, float] | None = None
    """Predictions outside ``[low, high]`` count as invalid (NaN always does)."""
    key_rate_baseline_windows: int = Field(default=5, ge=1)


class Monitor(_Model):
    """The ``monitor:`` section."""

    baseline: str = "approved"
    """The audit run whose reference profile, thresholds and owners are the watch:
    ``approved`` (the last approved run), ``latest``, a run number or an id."""
    reference: str = "reference"
    """The dataset of that run whose profile is the reference."""
    model_versions: list[str] | None = None
    """Accepted ``model_version`` values; events naming another are refused (400)."""
    rules: list[Rule] = Field(default_factory=list)
    escalation: list[EscalationLevel] = Field(default_factory=list)
    detection: Detection = Field(default_factory=Detection)
    webhooks: Webhooks = Field(default_factory=Webhooks)
    primary: ModelRoute | None = None
    fallback: ModelRoute | None = None
    autoscale_command: list[str] | None = None
    kpis: dict[str, KpiBand] = Field(default_factory=dict)
    limits: Limits = Field(default_factory=Limits)
    forensic_minutes: float = Field(default=60.0, gt=0)
    mask_snapshots: bool = True
    """Snapshots pass text fields through the PII masker; ``false`` keeps them verbatim."""
    retention_days: float = Field(default=30.0, gt=0)
    drill_max_age_days: float = Field(default=30.0, gt=0)
    """A drill older than this no longer counts for the monitoring-readiness check."""
    runbooks: Path | None = None

    @field_validator("escalation")
    @classmethod
    def _first_level(cls, value: list[EscalationLevel]) -> list[EscalationLevel]:
        if value and value[0].after_minutes is not None:
            raise ValueError(
                "the first escalation level is paged at each rule's `ack_within_minutes` "
                "deadline; remove its `after_minutes` (it applies from the second level on)"
            )
        return value

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, value: list[Rule]) -> list[Rule]:
        seen: set[str] = set()
        for rule in value:
            if rule.name in seen:
                raise ValueError(f"two rules are named {rule.name!r}; give each its own name")
            seen.add(rule.name)
        return value

    @model_validator(mode="after")
    def _wired(self) -> Monitor:
        for index, rule in enumerate(self.rules):
            where = f"rules[{index}] ({rule.name})"
            if "route_fallback" in rule.actions and self.fallback is None:
                raise ValueError(f"{where} routes to the fallback, but `monitor.fallback` is unset")
            if rule.signal == "kpi_out_of_band" and not self.kpis:
                raise ValueError(f"{where} watches KPIs, but `monitor.kpis` declares none")
            if rule.kpi is not None and rule.kpi not in self.kpis:
                raise ValueError(
                    f"{where} names KPI {rule.kpi!r}; declared: {', '.join(self.kpis) or 'none'}"
                )
        return self

    def rule(self, name: str) -> Rule:
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise KeyError(name)

    def window_of(self, rule: Rule) -> Window:
        return rule.window or self.detection.window
