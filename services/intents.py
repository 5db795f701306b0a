"""Who sends a money-moving intent, and what its twins do instead: one claim, everyone else waits.

Every action that moves money (create a link, request or approve a refund, and any later one such as a
saved-card charge) first writes an intent row, then calls the gateway once, then records the outcome. Twins
— a double click, a rerun, a second tab, the same form submitted to another server process — reach the same
intent row. The rule that keeps "gateway calls == intents" whatever twins arrive:

1. **Exactly one party sends**: the one whose *claim* on the row succeeded. A claim is one atomic database
   statement that only one transaction can win, whichever thread or process runs it:

   * a link: the INSERT of its row with the unique order id (the loser gets ``IntegrityError`` or finds the row);
   * a refund: :func:`claim` — ``UPDATE refund SET sent_at = now WHERE id = ? AND state = 'sending' AND sent_at
     IS NULL`` with rowcount 1; made by the one who created the intent (or moved it into ``sending`` by
     approving) right before the call. Any other caller, a second direct ``_send`` included, gets rowcount 0.

2. **A twin never sends**: it polls the row (:func:`await_outcome`, the sender may be in another process)
   until the outcome is recorded, bounded by a deadline, and returns that row — or the row in its current
   state when the deadline passes (the page then says "still being sent; refresh in a moment").

An intent whose sender crashed stays claimed-or-unclaimed in its in-flight state; it is settled from the
gateway (``services.refunds.settle``), never sent by a twin.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import update
from sqlmodel import Session

T = TypeVar("T")

#: How often a twin re-reads the intent row while the sender's call is under way.
POLL_SECONDS = 0.05


def claim(session: Session, model: Any, pk: int, *, state: str, marker: str, now: datetime) -> bool:
    """Atomically mark row ``pk`` of ``model`` as being sent (``marker`` column set to ``now``); True for the winner.

    Only a row still in ``state`` with ``marker`` unset can be claimed, so exactly one transaction wins (SQLite
    serialises writers; PostgreSQL re-evaluates the WHERE of a blocked UPDATE after the other commits).
    """
    table = model.__table__
    stmt = (update(table)
            .where(table.c.id == pk, table.c.state == state, table.c[marker].is_(None))
            .values({marker: now, "updated_at": now}))
    result = session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0) == 1


def await_outcome(read: Callable[[], T], pending: Callable[[T], bool], *, timeout: float,
                  poll: float = POLL_SECONDS) -> tuple[T, bool]:
    """Re-read an intent until ``pending`` is false or ``timeout`` seconds pass: (last row read, settled?)."""
    deadline = time.monotonic() + max(0.0, timeout)
    row = read()
    while pending(row):
        if time.monotonic() >= deadline:
            return row, False
        time.sleep(poll)
        row = read()
    return row, True
