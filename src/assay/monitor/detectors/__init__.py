"""Detectors: windowed, incremental signals comparing live traffic with the audited baseline.

The service turns each validated ingest batch into an :class:`EventBatch` and hands it, the
labels, the KPI values and every authentication outcome to :class:`Detectors`, which answers
with the :class:`Observation` of every window that closed. Each signal of
:data:`assay.spec.monitor.SIGNALS` has a detector per window the rules use (plus the default
window, for the dashboard). Definitions, windows and costs: docs/monitor-detectors.md.
"""

from assay.monitor.detectors.core import Detectors
from assay.monitor.detectors.events import MAX_IDS, EventBatch, Observation
from assay.spec.monitor import window_key

__all__ = ["MAX_IDS", "Detectors", "EventBatch", "Observation", "window_key"]
