"""Assay's load tester: open-loop load free of coordinated omission, on worker processes.

Open loop (:func:`run_load`): requests go out on a schedule (:class:`Schedule`, constant or
Poisson) whether or not the server keeps up, and each latency runs from the request's
intended send time. Closed loop (:func:`run_closed`) is there to show what the usual tools
report instead. :func:`find_saturation` steps the rate up until an :class:`Objective` is
missed. Method, schema and CLI: docs/loadtest.md.

Example::

    from assay.loadtest import Objective, Schedule, make_target, run_load

    target = make_target("http://127.0.0.1:8080/predict", body=b'{"x": [1, 2]}')
    result = run_load(target, Schedule(rate=200, duration=30, warmup=5), workers=2)
    print(result.latency.p99, Objective(p99_ms=250).misses(result))
"""

from __future__ import annotations

from assay.loadtest.result import (
    LoadResult,
    Objective,
    Percentiles,
    SaturationResult,
    Second,
    Step,
)
from assay.loadtest.run import (
    Progress,
    check_reachable,
    find_saturation,
    run_closed,
    run_load,
)
from assay.loadtest.schedule import Schedule
from assay.loadtest.target import Target, make_target, parse_headers

__all__ = [
    "LoadResult",
    "Objective",
    "Percentiles",
    "Progress",
    "SaturationResult",
    "Schedule",
    "Second",
    "Step",
    "Target",
    "check_reachable",
    "find_saturation",
    "make_target",
    "parse_headers",
    "run_closed",
    "run_load",
]
