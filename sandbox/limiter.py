"""Sliding-window request limit per token (get-payment-status: 30 a minute by default, §1.6, §16 A11)."""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable


class SlidingWindow:
    """At most ``limit()`` accepted calls per key in any ``window`` seconds; refused calls do not count."""

    def __init__(self, limit: Callable[[], int], window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def acquire(self, key: str) -> int | None:
        """None if allowed (and counted); otherwise the whole seconds until a slot frees (``Retry-After``)."""
        now = self._clock()
        with self._lock:
            hits = self._hits[key]
            while hits and hits[0] <= now - self._window:
                hits.popleft()
            if len(hits) >= self._limit():
                return max(1, math.ceil(hits[0] + self._window - now)) if hits else math.ceil(self._window)
            hits.append(now)
            return None

    def reset(self) -> None:
        """Forget every recorded call."""
        with self._lock:
            self._hits.clear()
