"""Database engine: SQLite in WAL mode with a busy timeout and ``BEGIN IMMEDIATE`` writes; PostgreSQL by URL.

Why ``BEGIN IMMEDIATE``: with SQLite's deferred ``BEGIN`` two writers that both read first dead-lock on the
lock upgrade and ``busy_timeout`` cannot help; taking the write lock up front serialises them instead
(measured in ``streamlit-notes.md`` §5). Pure reads (lists, details, exports) go through :func:`read_session`
instead: a companion engine with deferred ``BEGIN`` and ``query_only``, so a page refresh never waits for, or
holds up, a webhook being written.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from services.migrate import upgrade_to_head

BUSY_TIMEOUT_MS = 30_000
#: Read connections (SQLite files): a 16 MB page cache each, no memory map, at most 4 kept open (8 more while busy).
#: Measured at 1,000,000 payments (docs/performance.md, issue 15): the former 64 MB cache and 256 MB map per
#: connection put the server at 1,014 MB with five browser sessions (629 MB of it the mapped file, counted once
#: per connection) and 555 MB in the page benchmark; with these, 316 MB and 263 MB, for 0-5 ms more CPU on the
#: slowest searches (reads copy pages from the OS cache instead of mapping them).
READ_CACHE_KIB = 16_384
READ_MMAP_BYTES = 0
READ_POOL_SIZE = 4
READ_MAX_OVERFLOW = 8

_readers: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()
_readers_lock = threading.Lock()


def sqlite_url(path: str | Path) -> str:
    """``sqlite:///<absolute path>`` for a database file."""
    return f"sqlite:///{Path(path).resolve()}"


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create the engine for ``url``; SQLite files get WAL, busy timeout and immediate write transactions."""
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///") and not url.endswith(":memory:"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, echo=echo, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        )
        _configure_sqlite(engine)
    else:
        engine = create_engine(url, echo=echo, pool_pre_ping=True)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()
        dbapi_conn.isolation_level = None  # let SQLAlchemy emit BEGIN itself

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


@cache
def shared_engine(url: str) -> Engine:
    """The process's one engine for ``url``, schema migrated to head: pages, webhook routes and the background sync
    share its connection pool (and its read companion, :func:`read_engine`)."""
    engine = make_engine(url)
    create_schema(engine)
    return engine


def create_schema(engine: Engine) -> None:
    """Bring the database to the newest migration (idempotent; cheap after the first call per engine).

    The migrations in ``migrations/versions`` own the schema (:mod:`services.migrate`); a database written before
    them is adopted with its rows, never re-created.
    """
    upgrade_to_head(engine)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def is_sqlite_file(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:")


def read_engine(engine: Engine) -> Engine:
    """An engine for reads only: for a SQLite file, one without ``BEGIN IMMEDIATE`` (plain deferred ``BEGIN``,
    ``query_only``), so readers never take the write lock; otherwise ``engine`` itself."""
    if not is_sqlite_file(engine):
        return engine
    with _readers_lock:
        reader = _readers.get(engine)
        if reader is None:
            reader = create_engine(engine.url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000,
                                                             "check_same_thread": False},
                                   pool_size=READ_POOL_SIZE, max_overflow=READ_MAX_OVERFLOW)
            _configure_reader(reader)
            _readers[engine] = reader
    return reader


def _configure_reader(reader: Engine) -> None:
    @event.listens_for(reader, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA query_only=1")
        cur.execute(f"PRAGMA cache_size=-{READ_CACHE_KIB}")
        cur.execute(f"PRAGMA mmap_size={READ_MMAP_BYTES}")
        cur.close()
        dbapi_conn.isolation_level = None

    @event.listens_for(reader, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")  # deferred: a consistent WAL snapshot for the whole read


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """A session for reads only (one snapshot); its objects stay usable after it closes."""
    with Session(read_engine(engine), expire_on_commit=False) as session:
        yield session
