"""A thread-safe sliding-window limiter: at most ``limit`` calls in any ``window`` seconds."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .errors import RateLimited


class Slot:
    """One granted call; ``release`` moves its timestamp to when the call ended."""

    __slots__ = ("at",)

    def __init__(self, at: float) -> None:
        self.at = at


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
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._slots: list[Slot] = []
        self._lock = threading.Lock()

    def _wait_needed(self, now: float) -> float:
        self._slots = [s for s in self._slots if s.at + self.window > now]
        if len(self._slots) < self.limit:
            return 0.0
        # The (len - limit + 1)-th oldest slot must expire before a new call fits.
        ends = sorted(s.at for s in self._slots)
        return ends[len(ends) - self.limit] + self.window - now

    def acquire(self, timeout: float, *, what: str = "call") -> Slot:
        """Take a slot, sleeping while none is free; ``RateLimited`` if the wait would exceed ``timeout``."""
        deadline = self._clock() + timeout
        while True:
            with self._lock:
                now = self._clock()
                wait = self._wait_needed(now)
                if wait <= 0:
                    slot = Slot(now)
                    self._slots.append(slot)
                    return slot
            if now + wait > deadline:
                raise RateLimited(
                    f"Waited too long for a free {what} slot (at most {self.limit} per {self.window:.0f} s)",
                    retry_after=wait,
                )
            self._sleep(wait)

    def release(self, slot: Slot) -> None:
        """Mark the call as finished now."""
        with self._lock:
            slot.at = max(slot.at, self._clock())

    def in_window(self) -> int:
        """How many slots currently count against the limit."""
        with self._lock:
            self._wait_needed(self._clock())
            return len(self._slots)
