"""Who may spend a status look-up: the lane of a delivery, coalescing and per-sender limits.

Anyone can post a webhook or open a return URL naming any id, and each would cost one of the gateway's 30
status look-ups a minute (§1.6). So a delivery that names a payment we are waiting for is confirmed first
(``Lane.KNOWN``); one naming a payment we know but are not waiting for goes with the background work
(``Lane.POLL``); one naming nothing we know (``Lane.UNKNOWN``) is looked up at most once per distinct id within
``COALESCE_SECONDS``, at most ``UNKNOWN_PER_SOURCE`` times a minute per sender, and only within the limiter's
small share for unknown ids. A sender naming known payments faster than ``KNOWN_PER_SOURCE`` a minute is
demoted to ``POLL`` (never dropped: a real notification still gets its look-up).

The state is per process and bounded. The limiter it protects is the merchant's: per process on SQLite, kept in
the database when several servers share PostgreSQL (:mod:`services.gateway.shared_limiter`), where the
``UNKNOWN`` share is counted across servers too.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from services.gateway import Lane

#: An id that named nothing we know is not looked up again within this many seconds.
COALESCE_SECONDS = 600.0
#: Look-ups for unknown ids one sender may cause per minute.
UNKNOWN_PER_SOURCE = 5
#: Known-lane look-ups one sender may cause per minute before it is demoted to the polling lane.
KNOWN_PER_SOURCE = 60
#: Most ids and senders remembered (the oldest are forgotten first).
MEMORY = 10_000


class LookupGate:
    """Decides the lane of one delivery's look-up, or refuses it with a reason."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._looked_up: OrderedDict[str, float] = OrderedDict()
        self._senders: OrderedDict[tuple[Lane, str], deque[float]] = OrderedDict()

    def admit(self, lane: Lane, *, key: str, source: str | None) -> tuple[Lane | None, str | None]:
        """The lane to look ``key`` up in (None with the reason when it must not be looked up)."""
        sender = source or "unknown sender"
        now = self._clock()
        with self._lock:
            if lane == Lane.UNKNOWN:
                last = self._looked_up.get(key)
                if last is not None and now - last < COALESCE_SECONDS:
                    return None, (f"Not looked up: {key} was looked up {now - last:.0f} s ago and names no payment "
                                  "in the dashboard.")
                if not self._take(lane, sender, UNKNOWN_PER_SOURCE, now):
                    return None, (f"Not looked up: {sender} sent more than {UNKNOWN_PER_SOURCE} deliveries a "
                                  "minute naming ids the dashboard does not know.")
                self._looked_up[key] = now
                self._looked_up.move_to_end(key)
                while len(self._looked_up) > MEMORY:
                    self._looked_up.popitem(last=False)
                return lane, None
            if lane == Lane.KNOWN and not self._take(lane, sender, KNOWN_PER_SOURCE, now):
                return Lane.POLL, None
            return lane, None

    def _take(self, lane: Lane, sender: str, per_minute: int, now: float) -> bool:
        times = self._senders.get((lane, sender))
        if times is None:
            times = self._senders[(lane, sender)] = deque()
        self._senders.move_to_end((lane, sender))
        while times and now - times[0] >= 60.0:
            times.popleft()
        while len(self._senders) > MEMORY:
            self._senders.popitem(last=False)
        if len(times) >= per_minute:
            return False
        times.append(now)
        return True

    def forget(self, key: str) -> None:
        """Let ``key`` be looked up again (its look-up got no answer)."""
        with self._lock:
            self._looked_up.pop(key, None)

    def clear(self) -> None:
        """Forget everything (tests)."""
        with self._lock:
            self._looked_up.clear()
            self._senders.clear()


gate = LookupGate()
