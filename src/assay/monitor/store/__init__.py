"""The monitor's storage: one database (SQLite or PostgreSQL) for traffic, incidents and the
service's state (docs/monitor-storage.md).

- :mod:`~assay.monitor.store.schema` — the tables (SQLAlchemy Core);
- :mod:`~assay.monitor.store.db` — :class:`Database`: opening, Alembic migrations, leases
  between replicas, retention;
- :mod:`~assay.monitor.store.traffic` — events, labels and KPI values;
- :mod:`~assay.monitor.store.state` — flags, revoked keys, quarantine and review, forensic
  capture, drills and snapshots.
"""

from assay.monitor.store.db import Database, StoreError

__all__ = ["Database", "StoreError"]
