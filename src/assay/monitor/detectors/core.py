"""The detectors of one monitor: one per (signal, window) the rules and the dashboard need."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence

from assay.monitor.clock import Clock
from assay.monitor.detectors.accuracy import AccuracyDrop
from assay.monitor.detectors.events import EventBatch, Observation
from assay.monitor.detectors.inputs import InputShift, ScoreShift
from assay.monitor.detectors.kpis import KpiWindow
from assay.monitor.detectors.latency import LatencySpike
from assay.monitor.detectors.outputs import SuspiciousOutput
from assay.monitor.detectors.security import AuthAnomaly, KeyAnomaly
from assay.monitor.detectors.view import BatchView, Context, Plan, coder
from assay.monitor.detectors.windows import Windowed
from assay.profiles.baseline import Baseline
from assay.spec.monitor import SIGNALS, Monitor, Window, window_key

LATEST_CAP = 10_000
"""Latest observations kept for the dashboard (the least recently updated go first)."""


class Detectors:
    """Every detector of a monitor, fed by the service and read by the dashboard.

    One writer thread at a time calls the ``observe_*`` methods and :meth:`tick`;
    :meth:`latest` may be called from any thread.
    """

    def __init__(self, monitor: Monitor, baseline: Baseline, *, clock: Clock) -> None:
        self.monitor = monitor
        self.baseline = baseline
        self.clock = clock
        detection = monitor.detection
        listed = list(detection.features) if detection.features else list(baseline.features)
        unknown = [f for f in listed if f not in baseline.columns and f not in baseline.skipped]
        if unknown:
            raise ValueError(
                f"detection.features names {', '.join(map(repr, unknown))}, which the baseline "
                f"does not know (re-run the audit to rebuild it); it has: "
                f"{', '.join(baseline.features) or 'no features'}"
            )
        watched = [f for f in listed if f in baseline.columns]
        self.features = tuple(watched)
        self.skipped_features = {f: baseline.skipped[f] for f in listed if f not in watched}
        """Listed features the baseline could not summarise (a date, no values…), with why."""
        inputs = Plan([coder(f, baseline.columns[f]) for f in watched]) if watched else None
        output_column, output_field = baseline.score, "score"
        if baseline.score_summary is None:
            output_column, output_field = baseline.prediction, "prediction"
        output = None
        if output_column is not None and output_column in baseline.columns:
            output = Plan([coder(output_column, baseline.columns[output_column])])
        self.context = Context(
            inputs=inputs,
            output=output,
            output_field=output_field,
            prediction_range=detection.prediction_range,
            prediction_expected=baseline.prediction_summary is not None,
        )
        self.unsupported: dict[str, str] = {}
        """Signals this monitor cannot measure (no detector is built), with the reason."""
        if inputs is None:
            self.unsupported["input_shift"] = "the baseline summarises no feature"
        if output is None:
            self.unsupported["score_shift"] = "the baseline has no score or prediction column"
        if not monitor.kpis:
            self.unsupported["kpi_out_of_band"] = "monitor.kpis declares no KPI"

        wanted: dict[tuple[str, str], Window] = {}
        for rule in monitor.rules:
            window = monitor.window_of(rule)
            wanted.setdefault((rule.signal, window_key(window)), window)
        for signal in SIGNALS:
            if signal not in self.unsupported:
                wanted.setdefault((signal, window_key(detection.window)), detection.window)
        start = clock.now()
        self._events: list[InputShift | ScoreShift | SuspiciousOutput | LatencySpike | KeyAnomaly]
        self._events = []
        self._labels: list[AccuracyDrop] = []
        self._auth: list[AuthAnomaly] = []
        self._kpis: dict[str, list[KpiWindow]] = {name: [] for name in monitor.kpis}
        for (signal, _), window in wanted.items():
            if signal in self.unsupported:
                continue
            self._build(signal, window, start)
        self._lock = threading.Lock()
        self._latest: OrderedDict[tuple[str, str, str], Observation] = OrderedDict()

    def _build(self, signal: str, window: Window, start: float) -> None:
        detection, baseline, context = self.monitor.detection, self.baseline, self.context
        if signal == "input_shift":
            assert context.inputs is not None
            self._events.append(InputShift(window, start, context.inputs, detection.drift_psi))
        elif signal == "score_shift":
            assert context.output is not None
            self._events.append(ScoreShift(window, start, context.output, context.output_field))
        elif signal == "accuracy_drop":
            self._labels.append(AccuracyDrop(window, start, baseline.accuracy))
        elif signal == "latency_spike":
            p95, p99 = baseline.latency_p95_ms, baseline.latency_p99_ms
            self._events.append(LatencySpike(window, start, p95, p99))
        elif signal == "suspicious_output":
            self._events.append(SuspiciousOutput(window, start))
        elif signal == "security_anomaly":
            numeric = len(context.inputs.numeric) if context.inputs is not None else 0
            history = detection.key_rate_baseline_windows
            self._events.append(KeyAnomaly(window, start, history, numeric))
            self._auth.append(AuthAnomaly(window, start))
        elif signal == "kpi_out_of_band":
            for name, band in self.monitor.kpis.items():
                self._kpis[name].append(KpiWindow(name, band, window, start))

    # Feeding ---------------------------------------------------------------------------------

    def observe_events(self, batch: EventBatch) -> list[Observation]:
        """Add a batch of events; the observations of the windows it closed."""
        now = self.clock.now()
        view = BatchView(batch, self.context)
        out: list[Observation] = []
        for detector in self._events:
            out.extend(detector.observe(view, now))
        return self._publish(out)

    def observe_labels(self, rows: Sequence[tuple[str, float, float, float]]) -> list[Observation]:
        """Add labels ``(event_id, prediction, score, label)`` of earlier events."""
        now = self.clock.now()
        out: list[Observation] = []
        for detector in self._labels:
            out.extend(detector.observe(rows, now))
        return self._publish(out)

    def observe_kpi(self, name: str, ts: float, value: float) -> list[Observation]:
        """Add one value of a KPI (undeclared KPIs and non-finite values are ignored).

        Windows run on the service clock, so ``ts`` (the value's own time) is not used."""
        now = self.clock.now()
        out: list[Observation] = []
        if math.isfinite(value):
            for detector in self._kpis.get(name, ()):
                out.extend(detector.observe(value, now))
        return self._publish(out)

    def observe_auth(
        self, *, key_id: str | None, ok: bool, known: bool, ts: float
    ) -> list[Observation]:
        """Add one request's authentication outcome (``known``: a key the service issued;
        ``ts`` is not used — windows run on the service clock)."""
        now = self.clock.now()
        out: list[Observation] = []
        for detector in self._auth:
            out.extend(detector.observe(key_id, ok, known, now))
        return self._publish(out)

    def tick(self) -> list[Observation]:
        """Close the time windows that have ended by now."""
        now = self.clock.now()
        out: list[Observation] = []
        for detector in self._all():
            out.extend(detector.expire(now))
        return self._publish(out)

    # Reading ---------------------------------------------------------------------------------

    def latest(self) -> list[Observation]:
        """The latest observation per (signal, subject, window)."""
        with self._lock:
            return list(self._latest.values())

    def windows(self) -> list[tuple[str, str]]:
        """The ``(signal, window key)`` pairs measured."""
        return list(dict.fromkeys((d.signal, d.key) for d in self._all()))

    def footprint(self) -> int:
        """Roughly how many bytes the detectors' window state holds (diagnostics, tests)."""
        with self._lock:
            latest = len(self._latest)
        return sum(d.footprint() for d in self._all()) + 64 * latest

    def _all(self) -> Iterable[Windowed]:
        yield from self._events
        yield from self._labels
        yield from self._auth
        for windows in self._kpis.values():
            yield from windows

    def _publish(self, observations: list[Observation]) -> list[Observation]:
        forgotten = [
            ("security_anomaly", key, d.key)
            for d in self._events
            if isinstance(d, KeyAnomaly)
            for key in d.forgotten
        ]
        if observations or forgotten:
            with self._lock:
                for o in observations:
                    key = (o.signal, o.subject, o.window)
                    self._latest[key] = o
                    self._latest.move_to_end(key)
                for key in forgotten:  # keys silent for their whole history
                    self._latest.pop(key, None)
                while len(self._latest) > LATEST_CAP:
                    self._latest.popitem(last=False)
            for d in self._events:
                if isinstance(d, KeyAnomaly):
                    d.forgotten.clear()
        return observations
