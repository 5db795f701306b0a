"""Schema migrations (Alembic) at start-up: every process brings the cache to the newest revision before use.

- The schema is owned by ``migrations/versions``: revision ``0001`` is the baseline, equal to release 268e121's
  schema (tables, indexes, the search summary tables, FTS5 index and triggers), then one revision per change.
- A database written before migrations existed (release 268e121: tables, no ``alembic_version``) is adopted,
  never re-created: the baseline creates only what is missing (filling any summary it creates from ``payment``),
  records itself, and the later revisions run as usual. Rows are never dropped or rebuilt.
- Several app servers may start at once: the whole upgrade runs in one transaction that first takes a lock —
  ``pg_advisory_xact_lock`` on PostgreSQL, ``BEGIN IMMEDIATE`` (the write lock, see :mod:`services.db`) on
  SQLite — so one process applies it and the others then find the database at head.

Add a migration: change ``services/models.py``, then ``alembic revision --autogenerate -m "what changed"`` (with
``SOUQ_DATABASE_URL`` on a database at head), read and tidy the file, run ``pytest tests/unit/test_migrations.py``.
"""

from __future__ import annotations

import logging
import threading
import weakref
from functools import cache
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "sqlite:///data/souq.db"  # the app's default (dashboard/settings.py), for `alembic` by hand
BASELINE = "0001"
_PG_LOCK_KEY = 20_261_127  # any constant shared by every process that upgrades this database

#: Objects the migrations own that the SQLModel metadata does not describe (the search support on SQLite):
#: autogenerate must neither drop them nor report them as a difference.
UNMODELLED_TABLES = frozenset({
    "alembic_version", "payment_search_daily", "payment_search_amounts", "payment_search_day_ids", "payment_fts",
    "payment_search_hours", "settlement_deposited",
    "payment_fts_data", "payment_fts_idx", "payment_fts_docsize", "payment_fts_config",
    "customer_name", "customer_name_fts", "customer_name_fts_data", "customer_name_fts_idx",
    "customer_name_fts_docsize", "customer_name_fts_config",
})
UNMODELLED_INDEXES = frozenset({
    "ix_payment_created_cover", "ix_payment_amount_cover", "ix_payment_status_cover", "ix_payment_email_lower",
    "ix_webhook_payment", "ix_payment_search_text", "ix_payment_created_order", "ix_payment_amount_order",
    "ix_payment_status_order", "ix_customer_name_words", "ix_customer_last_paid_desc",
})

_current: weakref.WeakSet[Engine] = weakref.WeakSet()
_lock = threading.Lock()


def alembic_config() -> Config:
    """The project's Alembic configuration, with absolute paths (works from any working directory)."""
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    return cfg


@cache
def head_revision() -> str:
    """The newest revision in ``migrations/versions`` (read once per process)."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("migrations/versions has no revision")
    return head


def current_revision(conn: Connection) -> str | None:
    """The revision recorded in the database, or ``None`` (empty, or written before migrations)."""
    return MigrationContext.configure(conn).get_current_revision()


def lock_for_upgrade(conn: Connection) -> None:
    """Serialise upgrades across processes for the rest of ``conn``'s transaction (SQLite: its write lock)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})


def is_pre_migration(conn: Connection) -> bool:
    """A database written before migrations: the cache tables exist but no revision is recorded."""
    names = set(inspect(conn).get_table_names())
    return "payment" in names and "alembic_version" not in names


def upgrade_to_head(engine: Engine) -> bool:
    """Bring ``engine``'s database to the newest revision; ``True`` if this call applied anything.

    Cheap after the first call per engine. Safe when several processes call it on the same database at once.
    """
    if engine in _current:
        return False
    with _lock:
        if engine in _current:
            return False
        applied = _upgrade(engine)
        _current.add(engine)
    return applied


def _upgrade(engine: Engine) -> bool:
    head = head_revision()
    with engine.connect() as conn, conn.begin():  # SQLite engines from make_engine: BEGIN IMMEDIATE
        lock_for_upgrade(conn)
        current = current_revision(conn)
        if current == head:
            return False
        if current is None and is_pre_migration(conn):
            log.warning("database written before migrations: adopting it as revision %s, keeping its rows",
                        BASELINE)
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        log.info("database upgraded from %s to %s", current or "nothing", head)
    return True


#: Columns the migrations add outside the models (PostgreSQL's stored search text, 0012): table → column names.
UNMODELLED_COLUMNS = {"payment": frozenset({"search_text"})}


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, _compare_to: Any) -> bool:
    """Autogenerate filter: leave the unmodelled search objects alone."""
    if type_ == "table" and name in UNMODELLED_TABLES:
        return False
    if type_ == "column" and name in UNMODELLED_COLUMNS.get(getattr(getattr(obj, "table", None), "name", ""), ()):
        return False
    return not (type_ == "index" and name in UNMODELLED_INDEXES)


def render_item(type_: str, obj: Any, _autogen_context: AutogenContext) -> str | Literal[False]:
    """Autogenerate renders SQLModel's column types as plain SQLAlchemy ones, so migrations don't import sqlmodel."""
    if type_ == "type" and isinstance(obj, AutoString):
        length = getattr(obj.impl, "length", None)
        return f"sa.String(length={length})" if length else "sa.String()"
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


