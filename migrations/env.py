"""Alembic environment for the Souq Desk cache.

The URL comes from, in order: a connection handed over by :func:`services.migrate.upgrade_to_head` (the app's
start-up path, already inside its locked transaction), ``alembic -x url=...``, the ``SOUQ_DATABASE_URL`` variable
the app itself reads, and the app's default (``sqlite:///data/souq.db``). SQLite gets ``render_as_batch`` so
later migrations can alter tables (SQLite has almost no ``ALTER TABLE``).
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from services import models  # noqa: F401  (registers the tables on SQLModel.metadata)
from services.db import make_engine
from services.migrate import DEFAULT_URL, include_object, lock_for_upgrade, render_item

config = context.config
# The expression index ix_payment_email_lower cannot be reflected; include_object leaves it out anyway.
warnings.filterwarnings("ignore", message="Skipped unsupported reflection of expression-based index")
target_metadata = SQLModel.metadata


def _url() -> str:
    return str(context.get_x_argument(as_dictionary=True).get("url") or os.environ.get("SOUQ_DATABASE_URL")
               or DEFAULT_URL)


def _configure(connection: Connection, **extra: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_object=include_object,
        render_item=render_item,
        compare_type=True,
        **extra,
    )


def run_migrations_offline() -> None:
    """``alembic upgrade head --sql``: print the SQL instead of running it."""
    url = _url()
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=url.startswith("sqlite"), include_object=include_object)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:  # the app's start-up path: its transaction (and lock) is already open
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as conn:
            _configure(conn)
            with context.begin_transaction():
                lock_for_upgrade(conn)  # by hand while app servers start: still one upgrader at a time
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
