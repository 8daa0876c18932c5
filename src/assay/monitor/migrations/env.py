"""Alembic environment for the monitor's database.

The service migrates on start (:meth:`assay.monitor.store.db.Database.migrate`): it passes its
own connection, already in a transaction, in ``config.attributes["connection"]``. From the
``alembic`` command line (``alembic -c .../migrations/alembic.ini -x url=URL upgrade head``)
the URL comes from ``-x url=`` or ``sqlalchemy.url``; ``--sql`` writes the SQL instead.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from assay.monitor.store.schema import metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url")
    url = url or context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("give the database with -x url=URL (a path or a database URL)")
    return url


def run_offline() -> None:
    from assay.monitor.store.db import normalise_url

    context.configure(
        url=normalise_url(_url()),
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    from assay.monitor.store.db import Database

    database = Database.open(_url(), migrate=False)
    try:
        with database.begin() as conn:
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        database.close()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
