"""A throw-away PostgreSQL database for the tests that run the same code on PostgreSQL.

Used when SOUQ_TEST_POSTGRES_URL names a reachable server (scripts/test starts a local one); the test is skipped
otherwise. Each use gets a database of its own, so tests cannot disturb each other on the shared server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from services.db import create_schema, make_engine

URL_VARIABLE = "SOUQ_TEST_POSTGRES_URL"
_serial = count()


@contextmanager
def postgres_database(prefix: str, *, schema: bool = True) -> Iterator[Engine]:
    """An engine on a new database, migrated to head unless ``schema`` is false; dropped afterwards. Skips without
    a server."""
    url = os.environ.get(URL_VARIABLE)
    if not url:
        pytest.skip(f"{URL_VARIABLE} is not set (no PostgreSQL server for this run)")
    name = f"souq_{prefix}_{os.getpid()}_{next(_serial)}"
    try:
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # a configured but unreachable server is a skip, not a failure
        pytest.skip(f"PostgreSQL at {URL_VARIABLE} is not usable: {type(exc).__name__}")
    engine = make_engine(make_url(url).set(database=name).render_as_string(hide_password=False))
    try:
        if schema:
            create_schema(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
