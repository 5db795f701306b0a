"""The webhook verification worker: a bounded queue drained in batches by two daemon threads.

The webhook route answers as soon as the body is stored: :func:`on_webhook_stored` only queues the event, and
the worker parses it, asks the gateway and applies the answer in batches (:mod:`services.sync.events`), so a
burst of notifications never waits on the gateway's 30-a-minute status limit (§1.6). An event the worker could
not verify stays unprocessed; the next sync pass (:mod:`services.sync.passes`) retries it. Deliveries naming a
payment we are waiting for jump the queue (and skip the batching pause).
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.engine import Engine

from services.gateway import Lane, UPaymentsClient
from services.permissions import SYSTEM
from services.sync.events import process_events

log = logging.getLogger(__name__)

#: Threads taking batches of webhooks to verify (two, so one batch is written while the next is asked about).
WORKERS = 2
#: Status look-ups in flight at once for those batches; the shared limiter still caps the rate.
LOOKUP_THREADS = 8
#: Most events verified in one batch (one read and one write transaction).
BATCH = 100
#: Seconds without a new delivery before a batch is verified, and the longest a delivery waits for that pause.
QUIET = 0.1
MAX_DELAY = 10.0
#: Seconds a webhook look-up may wait for a limiter slot before the event is left to the sync pass.
LIMITER_WAIT = 30.0
#: Deliveries waiting for verification; beyond this they are left to the next sync pass.
QUEUE_SIZE = 10_000


_Item = tuple[Lane, int, Engine, UPaymentsClient, int]  # lane, arrival number, engine, client, event id


class _Verifier:
    """Daemon threads draining a bounded queue of events, a batch at a time (two transactions a batch); known
    payments' deliveries first."""

    def __init__(self, workers: int = WORKERS, size: int = QUEUE_SIZE, batch: int = BATCH) -> None:
        self._queue: queue.PriorityQueue[_Item] = queue.PriorityQueue(size)
        self._arrivals = itertools.count()
        self._workers = workers
        self._batch = batch
        self._threads: list[threading.Thread] = []
        self._lookups: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._idle = threading.Condition()
        self._busy = 0
        self._last_submit = 0.0

    def submit(self, engine: Engine, client: UPaymentsClient, event_id: int, lane: Lane = Lane.POLL) -> bool:
        """Queue one event; False when the queue is full (the sync pass will pick the event up)."""
        self._start()
        self._last_submit = time.monotonic()
        with self._idle:
            self._busy += 1
        try:
            self._queue.put_nowait((lane, next(self._arrivals), engine, client, event_id))
        except queue.Full:
            self._done(1)
            return False
        return True

    def wait_idle(self, timeout: float) -> bool:
        """Block until every queued event was handled; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def _start(self) -> None:
        with self._lock:
            if self._lookups is None:
                self._lookups = ThreadPoolExecutor(LOOKUP_THREADS, thread_name_prefix="webhook-lookup")
            self._threads = [t for t in self._threads if t.is_alive()]
            while len(self._threads) < self._workers:
                thread = threading.Thread(target=self._run, name=f"webhook-verifier-{len(self._threads)}",
                                          daemon=True)
                thread.start()
                self._threads.append(thread)

    def _done(self, count: int) -> None:
        with self._idle:
            self._busy -= count
            if not self._busy:
                self._idle.notify_all()

    def _take(self) -> list[_Item]:
        """The next batch, once deliveries pause for ``QUIET`` s (at most ``MAX_DELAY`` s after the first): during
        a burst, answering the gateway comes first and verification right after; a known payment's delivery
        does not wait for the pause. A batch holds events for one engine and client, no more than the client's
        status limiter has room for right now."""
        first = self._queue.get()
        deadline = time.monotonic() + MAX_DELAY
        while (first[0] != Lane.KNOWN and time.monotonic() - self._last_submit < QUIET
               and time.monotonic() < deadline):
            time.sleep(QUIET / 2)
        limiter = first[3].status_limiter
        room = max(1, min(self._batch, limiter.limit - limiter.in_window()))
        items = [first]
        while len(items) < room:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item[2:4] != first[2:4]:  # another database or gateway (tests): its own batch
                self._queue.put(item)
                break
            items.append(item)
        return items

    def _run(self) -> None:
        while True:
            items = self._take()
            engine, client = items[0][2], items[0][3]
            try:
                process_events(engine, client, [i[4] for i in items], actor=SYSTEM, lookups=self._lookups,
                               limiter_timeout=LIMITER_WAIT)
            except Exception:  # a bad batch must not kill the worker; its events stay open for the sync pass
                log.exception("verifying %d webhook events failed", len(items))
            finally:
                self._done(len(items))


_verifier = _Verifier()


def on_webhook_stored(engine: Engine, client: UPaymentsClient, event_id: int, lane: Lane = Lane.POLL) -> None:
    """Called by the webhook route right after storing a delivery: queue it for verification and return at once
    (``lane``: the receipt's; a known payment's delivery is verified first).

    The worker parses the body, records its ids, asks the gateway and applies the answer (a stored event that
    never gets there — full queue, process restart — is picked up by the next sync pass).
    """
    if not _verifier.submit(engine, client, event_id, lane):
        log.warning("webhook verification queue full; event %s waits for the next sync pass", event_id)


def wait_idle(timeout: float = 30.0) -> bool:
    """Wait until queued webhook verifications are done (tests, benchmarks, shutdown)."""
    return _verifier.wait_idle(timeout)
