"""Exact totals that are not counted again while the database has not changed (PostgreSQL).

The customers list counts ``customer_summary`` on every rerun (4.6 million rows at 5,000,000 payments: 265 ms)
and the links list its links (500,000: 92 ms), the links page's watcher every three seconds as well. On
PostgreSQL a total is remembered with the snapshot it was counted in (``pg_current_snapshot()``, in the same
statement): two statements whose snapshots are the same text (``xmin:xmax:in-progress``) see exactly the same
committed rows, so a later statement with that snapshot would count the same. Any transaction that writes,
anywhere on the server, changes the snapshot, and the next call counts again: the total is never stale, and a
busy shop saves only between its writes. A statement whose parameters change (a status filter compares with
"now") is a new key each time, and a transaction that has written counts without remembering: its own changes
are visible to it but not in the snapshot's text.

SQLite counts as before: a count there reads a narrow index in the same process, and ``PRAGMA data_version`` is
per connection, so it could not key a cache shared by the read pool.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from sqlalchemy import func, literal_column, select, text
from sqlalchemy.sql import Select

#: Remembered totals (per database, statement and snapshot); the oldest go first.
MAX_REMEMBERED = 256
_remembered: OrderedDict[tuple[str, str, str], int] = OrderedDict()
_lock = threading.Lock()
_SNAPSHOT = "pg_current_snapshot()::text"


def count_rows(session: Any, stmt: Select[Any]) -> int:
    """``count(*)`` of ``stmt``'s rows, read in ``session`` (a SQLAlchemy or SQLModel session)."""
    counting = select(func.count()).select_from(stmt.subquery())
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return int(session.execute(counting).scalar_one())
    compiled = counting.compile(dialect=bind.dialect)
    what = (bind.url.render_as_string(hide_password=True),
            f"{compiled}|{sorted((k, repr(v)) for k, v in compiled.params.items())}")
    snapshot, writing = session.execute(
        text(f"SELECT {_SNAPSHOT}, pg_current_xact_id_if_assigned() IS NOT NULL")).one()
    if writing:  # this transaction's own changes are not in its snapshot's text: count, remember nothing
        return int(session.execute(counting).scalar_one())
    with _lock:
        total = _remembered.get((*what, snapshot))
        if total is not None:
            _remembered.move_to_end((*what, snapshot))
            return total
    # The count and its own snapshot in one statement: the snapshot above may already be older than the count's.
    counted_in, total = session.execute(select(literal_column(_SNAPSHOT), func.count())
                                        .select_from(stmt.subquery())).one()
    with _lock:
        _remembered[(*what, str(counted_in))] = int(total)
        while len(_remembered) > MAX_REMEMBERED:
            _remembered.popitem(last=False)
    return int(total)


def forget() -> None:
    """Drop every remembered total (tests; never needed for correctness)."""
    with _lock:
        _remembered.clear()
