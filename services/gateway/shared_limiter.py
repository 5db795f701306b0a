"""The merchant's one status budget when several app servers share a PostgreSQL database.

The gateway allows 30 status look-ups a minute for the whole merchant (§1.6), not per server. So with several
servers every slot is a row of ``status_slot``, taken under one transaction-scoped advisory lock: count what the
window holds, check the lanes, insert. The same lane rules as :class:`SlidingWindowLimiter` hold across servers:

- a request that cannot go at once records itself as ``waiting`` (refreshed while it waits; a dead server's
  waits expire after ``WAIT_TTL`` seconds), and a lower lane never takes a free slot while a higher lane waits
  anywhere;
- a held slot counts from when the call *ended* (``ended_at``), so the gateway, counting arrivals, never sees
  more than ``limit`` in any window; a slot whose server died mid-call counts until ``taken_at`` + two windows.

Times are the database's clock, so servers with skewed clocks share one window. On SQLite (one server) the
in-process limiter is used instead (:mod:`services.gateway.factory`).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from .errors import RateLimited
from .limiter import Lane, SlidingWindowLimiter, Slot, current_lane

#: Advisory lock key serialising slot decisions (any constant shared by every server of this database).
LOCK_KEY = 20_261_119
#: Seconds a waiting request stays visible to other servers without being refreshed.
WAIT_TTL = 5.0
#: Longest sleep between two looks at the table while waiting (seconds).
POLL = 0.25

_SERVER = f"{socket.gethostname()[:40]}:{os.getpid()}"


class DatabaseSlot(Slot):
    """A granted call: its row in ``status_slot``."""

    __slots__ = ("row_id",)

    def __init__(self, at: float, lane: Lane, row_id: int) -> None:
        super().__init__(at, lane)
        self.row_id = row_id


class DatabaseLimiter(SlidingWindowLimiter):
    """:class:`SlidingWindowLimiter`'s interface and lane rules, with the slots in the shared database."""

    def __init__(self, engine: Engine, limit: int, window: float = 60.0, *,
                 sleep: Callable[[float], None] = time.sleep, reserve: int | None = None,
                 unknown_share: int | None = None, deposit_share: int | None = None) -> None:
        super().__init__(limit, window, sleep=sleep, reserve=reserve, unknown_share=unknown_share,
                         deposit_share=deposit_share)
        self.engine = engine

    # ------------------------------------------------------------------ one decision, under the lock

    def _decide(self, conn: Connection, which: Lane, wait_row: int | None) -> tuple[float, int | None]:
        """(0, slot row id) when a slot was taken now, else (seconds to wait at least, the waiting row's id)."""
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
        window = self.window
        conn.execute(text(
            "DELETE FROM status_slot WHERE (state = 'held' AND coalesce(ended_at, taken_at + make_interval("
            "secs => :w)) < clock_timestamp() - make_interval(secs => :w)) OR (state = 'waiting' AND ended_at < "
            "clock_timestamp() - make_interval(secs => :ttl))"), {"w": window, "ttl": WAIT_TTL})
        rows = conn.execute(text(
            "SELECT lane, extract(epoch FROM (coalesce(ended_at, clock_timestamp()) + make_interval(secs => :w) "
            "- clock_timestamp())) FROM status_slot WHERE state = 'held'"), {"w": window}).all()
        waiting_higher = conn.execute(text(
            "SELECT count(*) FROM status_slot WHERE state = 'waiting' AND lane < :lane AND id <> :me"),
            {"lane": int(which), "me": wait_row or 0}).scalar_one()
        expiries = sorted(float(left) for _lane, left in rows)
        wait = _room_wait(expiries, self._cap(which))
        share = self._share(which)
        if share is not None:
            wait = max(wait, _room_wait(sorted(float(left) for lane_, left in rows if lane_ == which), share))
        if wait <= 0 and waiting_higher:
            wait = POLL / 5  # a higher lane somewhere is waiting for this slot
        if wait <= 0:
            if wait_row is not None:
                conn.execute(text("UPDATE status_slot SET state = 'held', taken_at = clock_timestamp(), "
                                  "ended_at = NULL WHERE id = :id"), {"id": wait_row})
                return 0.0, wait_row
            row = conn.execute(text(
                "INSERT INTO status_slot (lane, state, holder, taken_at) VALUES (:lane, 'held', :holder, "
                "clock_timestamp()) RETURNING id"), {"lane": int(which), "holder": _holder()}).scalar_one()
            return 0.0, int(row)
        if wait_row is None:
            wait_row = int(conn.execute(text(
                "INSERT INTO status_slot (lane, state, holder, taken_at, ended_at) VALUES (:lane, 'waiting', "
                ":holder, clock_timestamp(), clock_timestamp()) RETURNING id"),
                {"lane": int(which), "holder": _holder()}).scalar_one())
        else:
            conn.execute(text("UPDATE status_slot SET ended_at = clock_timestamp() WHERE id = :id"), {"id": wait_row})
        return wait, wait_row

    def _forget(self, row_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("DELETE FROM status_slot WHERE id = :id AND state = 'waiting'"), {"id": row_id})

    # ------------------------------------------------------------------ SlidingWindowLimiter's interface

    def acquire(self, timeout: float, *, what: str = "call", lane: Lane | None = None) -> Slot:
        which = current_lane() if lane is None else lane
        deadline = time.monotonic() + timeout
        wait_row: int | None = None
        try:
            while True:
                # A request that may not wait (timeout 0) never records itself as waiting.
                with self.engine.begin() as conn:
                    wait, row = self._decide(conn, which, wait_row if timeout > 0 else None)
                    if wait > 0 and timeout <= 0 and row is not None:
                        conn.execute(text("DELETE FROM status_slot WHERE id = :id"), {"id": row})
                        row = None
                if wait <= 0 and row is not None:
                    granted, wait_row = DatabaseSlot(time.monotonic(), which, row), None
                    return granted
                wait_row = row
                now = time.monotonic()
                if now + wait > deadline:
                    raise RateLimited(
                        f"Waited too long for a free {what} slot (at most {self._cap(which)} per "
                        f"{self.window:.0f} s for {which.name.lower()} look-ups, shared by every server)",
                        retry_after=wait)
                self._sleep(min(wait, POLL))
        finally:
            if wait_row is not None:
                self._forget(wait_row)

    def release(self, slot: Slot) -> None:
        if isinstance(slot, DatabaseSlot):
            with self.engine.begin() as conn:
                conn.execute(text("UPDATE status_slot SET ended_at = clock_timestamp() WHERE id = :id"),
                             {"id": slot.row_id})

    def in_window(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(text(
                "SELECT count(*) FROM status_slot WHERE state = 'held' AND coalesce(ended_at, clock_timestamp()) > "
                "clock_timestamp() - make_interval(secs => :w)"), {"w": self.window}).scalar_one())

    def room(self, which: Lane | None = None) -> int:
        which = current_lane() if which is None else which
        with self.engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT lane FROM status_slot WHERE state = 'held' AND coalesce(ended_at, clock_timestamp()) > "
                "clock_timestamp() - make_interval(secs => :w)"), {"w": self.window}).scalars().all()
        free = self._cap(which) - len(rows)
        share = self._share(which)
        if share is not None:
            free = min(free, share - sum(lane_ == which for lane_ in rows))
        return max(0, free)


def _room_wait(expiries: list[float], cap: int) -> float:
    """Seconds until a new call fits under ``cap``, given each counted slot's seconds left (sorted)."""
    if len(expiries) < cap:
        return 0.0
    return max(expiries[len(expiries) - cap], POLL / 5)


def _holder() -> str:
    return f"{_SERVER}:{threading.get_ident() % 100_000}"[:64]
