"""A real monitor for tests: an audited reference, a stored baseline, a replica on loopback.

``audited(tmp_path, rules=...)`` writes a reference table and a spec with a ``monitor:``
section, runs the audit (which stores ``monitor/baseline.json``) and returns the spec, the
evidence repository and the run id. ``serving(spec, db, ...)`` builds a replica over ``db`` and
serves it with uvicorn on loopback; ``keys`` holds an admin, a read and an ingest token.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from assay.api import execute
from assay.evidence import Repository
from assay.monitor.clock import Clock, ManualClock
from assay.monitor.keys import create_key
from assay.monitor.server import Replica, build, load_baseline
from assay.monitor.store.db import Database
from assay.serving._server import running
from assay.spec import Spec, spec_from_mapping

REGIONS = ["north", "south", "east", "west"]

DEFAULT_RULES: list[dict[str, Any]] = [
    {
        "name": "inputs-drifted",
        "signal": "input_shift",
        "when": "share_drifted > 0.3",
        "window": {"events": 500},
        "actions": ["snapshot", "retrain", "route_fallback"],
        "runbook": "https://wiki.example.com/drift",
        "ack_within_minutes": 1,
    }
]


def reference_table(n: int = 5000, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "age": rng.normal(40, 10, n),
            "income": rng.lognormal(10, 0.5, n),
            "region": rng.choice(REGIONS, n),
            "target": rng.integers(0, 2, n),
            "prediction": rng.integers(0, 2, n),
            "score": rng.random(n),
        }
    )


def spec_document(
    *,
    rules: Sequence[Mapping[str, Any]] = DEFAULT_RULES,
    monitor: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The spec ``audited`` audits, as a mapping (write it as YAML for the command line)."""
    section: dict[str, Any] = {
        "baseline": "latest",
        "rules": [dict(r) for r in rules],
        "escalation": [{"name": "on-call"}],
        "fallback": {"url": "http://127.0.0.1:9/predict"},
        **(monitor or {}),
    }
    return {
        "version": 1,
        "system": {"name": "monitored"},
        "owners": {"default": "ml@example.com"},
        "datasets": {
            "reference": {
                "path": "reference.parquet",
                "target": "target",
                "prediction": "prediction",
                "score": "score",
            }
        },
        "monitor": section,
    }


def audited(
    tmp_path: Path,
    *,
    rules: Sequence[Mapping[str, Any]] = DEFAULT_RULES,
    monitor: Mapping[str, Any] | None = None,
) -> tuple[Spec, Repository, str]:
    pq.write_table(reference_table(), tmp_path / "reference.parquet")
    spec = spec_from_mapping(spec_document(rules=rules, monitor=monitor), base_dir=tmp_path)
    result = execute(spec, repo=tmp_path / ".assay")
    assert result.repository is not None
    return spec, result.repository, result.run_id


def event(i: int, *, shift: float = 0.0, rng: np.random.Generator, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"e{i}",
        "timestamp": 1_800_000_000.0 + i,
        "model_version": "1",
        "session_id": f"s{i % 7}",
        "api_key_id": "client-1",
        "features": {
            "age": float(rng.normal(40 + shift, 10)),
            "income": float(rng.lognormal(10, 0.5)),
            "region": str(rng.choice(REGIONS)),
        },
        "prediction": 1.0,
        "score": float(rng.random()),
        "latency_ms": 12.0,
        **extra,
    }


def events(start: int, n: int, *, shift: float = 0.0, seed: int = 1) -> dict[str, Any]:
    rng = np.random.default_rng(seed + start)
    return {"events": [event(start + i, shift=shift, rng=rng) for i in range(n)]}


@dataclass
class Served:
    url: str
    replica: Replica
    keys: dict[str, str]
    clock: Clock
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, role: str = "admin") -> httpx.Client:
        """An HTTP client sending ``role``'s key; closed when the service stops."""
        client = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.keys[role]}"},
            timeout=30,
        )
        self.clients.append(client)
        return client


@contextmanager
def serving(
    spec: Spec, repo: Repository, db: Database, *, clock: Clock | None = None
) -> Iterator[Served]:
    """A replica watching the spec's baseline run, served on loopback."""
    assert spec.monitor is not None
    clock = clock or ManualClock()
    baseline, run_id, _ = load_baseline(spec, repo.path)
    replica = build(spec, db, baseline=baseline, baseline_run=run_id, repository=repo, clock=clock)
    tokens: dict[str, str] = {}
    with db.begin() as conn:
        for role in ("admin", "read", "ingest"):
            _, tokens[role] = create_key(conn, name=f"{role}-key", role=role, now=clock.now())
    with running(replica.app) as served:
        found = Served(served.url, replica, tokens, clock)
        try:
            yield found
        finally:
            for client in found.clients:
                client.close()
