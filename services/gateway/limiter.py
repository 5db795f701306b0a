"""A thread-safe sliding-window limiter: at most ``limit`` calls in any ``window`` seconds, shared by lanes.

The gateway allows 30 status look-ups a minute for the whole merchant (§1.6), and anyone on the internet can make
us want one (a webhook or a return URL naming any track id). So callers say which lane they are in:

- ``Lane.KNOWN``: confirming a payment we know we are waiting for (a webhook or redirect naming our order, a
  customer on the return page, a staff member). It may use every slot and is served first.
- ``Lane.POLL``: background work (sync passes, refund settling). It leaves ``reserve`` slots to ``KNOWN``.
- ``Lane.UNKNOWN``: deliveries naming nothing we know. They get at most ``unknown_share`` slots a window, and
  only while ``POLL`` could still go, so junk can never starve a known payment.
- ``Lane.DEPOSIT``: asking whether captured money reached the bank (get-deposit-status shares the budget). The
  lowest lane: at most ``deposit_share`` slots a window, only while ``POLL`` could still go, and never while any
  other lane waits — a deposit can wait a day, a confirmation cannot.

A lower lane never takes a free slot while a higher lane is waiting for one. The lane of a call is given to
``acquire``, or set for a block of code with :func:`lane` (a context variable: the background sync says once
that it is ``POLL``, without threading the word through every function it calls).

This limiter counts one process's calls. Several app servers on one PostgreSQL database share one budget through
:class:`~services.gateway.shared_limiter.DatabaseLimiter`, which keeps this interface and these lanes.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import IntEnum

from .errors import RateLimited


class Lane(IntEnum):
    """Priority of a status look-up; lower is served first."""

    KNOWN = 0
    POLL = 1
    UNKNOWN = 2
    DEPOSIT = 3


_current: contextvars.ContextVar[Lane] = contextvars.ContextVar("status_lane", default=Lane.KNOWN)
#: How long a lower lane sleeps before checking again while a higher lane waits (seconds).
_YIELD = 0.02


@contextmanager
def lane(which: Lane) -> Iterator[None]:
    """Run a block with ``which`` as the default lane of its look-ups (this thread/context only)."""
    token = _current.set(which)
    try:
        yield
    finally:
        _current.reset(token)


def current_lane() -> Lane:
    """The lane set by the innermost :func:`lane` block (``KNOWN`` outside any)."""
    return _current.get()


class Slot:
    """One granted call; ``release`` moves its timestamp to when the call ended."""

    __slots__ = ("at", "lane")

    def __init__(self, at: float, lane: Lane = Lane.KNOWN) -> None:
        self.at = at
        self.lane = lane


class SlidingWindowLimiter:
    """Callers block until a slot is free; waiting longer than ``timeout`` raises ``RateLimited`` at once.

    A slot counts from when the call *ended* (``release``): the gateway saw the request somewhere between
    start and end, so counting from the end can never let more than ``limit`` requests land in its window.
    """

    def __init__(
        self,
        limit: int,
        window: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        reserve: int | None = None,
        unknown_share: int | None = None,
        deposit_share: int | None = None,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.window = window
        #: Slots only ``KNOWN`` may use (a tenth of the limit; none when the limit is 1).
        self.reserve = min(limit - 1, max(1, limit // 10)) if reserve is None else reserve
        #: Slots a window ``UNKNOWN`` may use at most.
        self.unknown_share = max(1, limit // 10) if unknown_share is None else unknown_share
        #: Slots a window ``DEPOSIT`` may use at most.
        self.deposit_share = max(1, limit // 5) if deposit_share is None else deposit_share
        self._clock = clock
        self._sleep = sleep
        self._slots: list[Slot] = []
        self._waiting = [0 for _ in Lane]
        self._lock = threading.Lock()

    def _cap(self, which: Lane) -> int:
        return self.limit if which == Lane.KNOWN else max(1, self.limit - self.reserve)

    def _share(self, which: Lane) -> int | None:
        return {Lane.UNKNOWN: self.unknown_share, Lane.DEPOSIT: self.deposit_share}.get(which)

    def _room_wait(self, slots: list[Slot], cap: int, now: float) -> float:
        if len(slots) < cap:
            return 0.0
        # The (len - cap + 1)-th oldest slot must expire before a new call fits.
        ends = sorted(s.at for s in slots)
        return ends[len(ends) - cap] + self.window - now

    def _wait_needed(self, now: float, which: Lane = Lane.KNOWN) -> float:
        self._slots = [s for s in self._slots if s.at + self.window > now]
        wait = self._room_wait(self._slots, self._cap(which), now)
        share = self._share(which)
        if share is not None:
            own = [s for s in self._slots if s.lane == which]
            wait = max(wait, self._room_wait(own, share, now))
        if wait <= 0 and any(self._waiting[higher] for higher in range(which)):
            return _YIELD  # a higher lane is waiting for this slot
        return wait

    def acquire(self, timeout: float, *, what: str = "call", lane: Lane | None = None) -> Slot:
        """Take a slot, sleeping while none is free; ``RateLimited`` if the wait would exceed ``timeout``."""
        which = current_lane() if lane is None else lane
        deadline = self._clock() + timeout
        with self._lock:
            self._waiting[which] += 1
        try:
            while True:
                with self._lock:
                    now = self._clock()
                    wait = self._wait_needed(now, which)
                    if wait <= 0:
                        slot = Slot(now, which)
                        self._slots.append(slot)
                        return slot
                if now + wait > deadline:
                    raise RateLimited(
                        f"Waited too long for a free {what} slot (at most {self._cap(which)} per "
                        f"{self.window:.0f} s for {which.name.lower()} look-ups)",
                        retry_after=wait,
                    )
                self._sleep(wait)
        finally:
            with self._lock:
                self._waiting[which] -= 1

    def release(self, slot: Slot) -> None:
        """Mark the call as finished now."""
        with self._lock:
            slot.at = max(slot.at, self._clock())

    def in_window(self) -> int:
        """How many slots currently count against the limit."""
        with self._lock:
            self._wait_needed(self._clock())
            return len(self._slots)

    def room(self, which: Lane | None = None) -> int:
        """Slots ``which`` (the current lane when None) could take right now without waiting."""
        which = current_lane() if which is None else which
        with self._lock:
            self._wait_needed(self._clock())
            free = self._cap(which) - len(self._slots)
            share = self._share(which)
            if share is not None:
                free = min(free, share - sum(s.lane == which for s in self._slots))
            return max(0, free)
