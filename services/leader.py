"""Which app server runs the background work when several share one PostgreSQL database.

The sync passes, refund settling and deposit polling must run on one server at a time: three servers running
them would ask the gateway the same questions three times. The leader is the server holding a session-level
advisory lock (``pg_try_advisory_lock``) on a connection of its own, kept open for as long as it leads:

- when the leader dies, its connection closes and PostgreSQL frees the lock at once; a follower trying every
  ``TRY_EVERY`` seconds takes over. If its machine vanishes without closing the connection, TCP keepalives
  (idle 5 s, then 3 probes 5 s apart) end the session within about 20 s;
- the leader checks its connection before each pass (:meth:`Leadership.still_leading`); a connection that
  failed means the lock is gone, and the server steps down (another may already lead). A pass already under
  way finishes meanwhile: what it does is safe twice (the one upsert, intent claims, event claims), only not
  cheap, which is why one server leads.

On SQLite there is one server and it always leads.

``python -m dashboard sync`` run from cron beside the servers takes the same lock for its pass
(:mod:`dashboard.cli_sync`): while a server leads, the cron run skips; while the cron run holds it, the servers
are all followers and the first to try after it takes the lead back.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)

#: Advisory lock key of the leader (any constant shared by every server of this database).
LEADER_KEY = 20_261_190
#: Seconds between a follower's attempts to become the leader (takeover within this after the leader dies).
TRY_EVERY = 5.0
_KEEPALIVE: dict[str, Any] = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 5,
                              "keepalives_count": 3, "connect_timeout": 5}


class Leadership:
    """This server's claim to lead the background work on ``engine``'s database."""

    def __init__(self, engine: Engine) -> None:
        self.shared = engine.dialect.name == "postgresql"
        self._url = engine.url
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self._engine: Engine | None = None

    @property
    def leading(self) -> bool:
        """True while this server holds the lock (always on SQLite)."""
        return not self.shared or self._conn is not None

    def role(self) -> str:
        """``leader`` or ``follower``, for the health endpoint."""
        return "leader" if self.leading else "follower"

    def try_lead(self) -> bool:
        """Become the leader if nobody is; True when this server leads now (False also when the database
        could not be asked: the next try asks again)."""
        try:
            return self.acquire()
        except Exception:
            log.exception("could not ask to lead the background work")
            return False

    def acquire(self) -> bool:
        """:meth:`try_lead`, raising when the database cannot be asked (the cron command reports that)."""
        if not self.shared:
            return True
        with self._lock:
            if self._conn is not None:
                return True
            if self._engine is None:
                self._engine = create_engine(self._url, poolclass=NullPool, connect_args=_KEEPALIVE)
            conn = self._engine.connect()
            try:
                won = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LEADER_KEY}).scalar())
                conn.commit()  # the session lock outlives the transaction; no transaction stays open
            except Exception:
                conn.close()
                raise
            if not won:
                conn.close()
                return False
            self._conn = conn
            log.info("this process now leads the background sync")
            return True

    def still_leading(self) -> bool:
        """Check the leader's connection (and so its lock); step down when it failed."""
        if not self.shared:
            return True
        with self._lock:
            if self._conn is None:
                return False
            try:
                self._conn.execute(text("SELECT 1"))
                self._conn.commit()
                return True
            except Exception:
                log.warning("lost the leader's database connection: stepping down")
                self._drop()
                return False

    def step_down(self) -> None:
        """Give the lead up (shutdown, tests): another server takes over at its next try."""
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LEADER_KEY})
                    self._conn.commit()
                except Exception:
                    log.warning("could not release the leader's lock; closing its connection frees it")
            self._drop()
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # already broken
                log.debug("closing the leader's connection failed", exc_info=True)
            self._conn = None
