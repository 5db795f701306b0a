"""The background sync: one daemon thread per process that runs a sync pass every few seconds, on the leader.

Started once per process by :func:`ensure_started` (the app calls it on every rerun; only the first call
starts the thread). It never raises into the app: every failure is logged and the next pass tries again.
With several app servers on one PostgreSQL database only the leader (:mod:`services.leader`) runs the passes,
refund settling and deposit polling; the others try to take the lead every few seconds. On SQLite the one
server always leads.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from sqlalchemy.engine import Engine

from services.customers import settle_in_flight
from services.gateway import UPaymentsClient
from services.gateway.factory import register_client
from services.leader import TRY_EVERY, Leadership
from services.permissions import SYSTEM
from services.refunds import refresh_refunds, settle_uncertain
from services.settlements import poll_deposits
from services.sync import sync_pending

log = logging.getLogger(__name__)

_lock = threading.Lock()
_thread: threading.Thread | None = None
_stop = threading.Event()
_leadership: Leadership | None = None


class _SyncSettings(Protocol):
    """The settings the loop reads."""

    sync_interval_seconds: int
    status_rate_per_minute: int


def pass_limit(rate_per_minute: int, interval_seconds: int) -> int:
    """Look-ups per pass: what the status limit allows in about two intervals (at least 5)."""
    return max(5, rate_per_minute * interval_seconds * 2 // 60)


def ensure_started(settings: _SyncSettings, engine: Engine, client: UPaymentsClient) -> None:
    """Start the background sync thread for this process if it is not running yet."""
    global _thread, _leadership
    with _lock:
        if _thread is not None and _thread.is_alive():
            return
        _leadership = Leadership(engine)
        register_client(client)  # webhooks verified in this process share the pages' rate limiter
        _stop.clear()
        interval = float(settings.sync_interval_seconds)
        limit = pass_limit(settings.status_rate_per_minute, settings.sync_interval_seconds)
        _thread = threading.Thread(target=_loop, args=(engine, client, interval, limit, _leadership),
                                   name="souq-sync",
                                   daemon=True)
        _thread.start()
        log.info("background sync started: every %.0f s, up to %d look-ups a pass", interval, limit)


def stop(timeout: float = 10.0) -> bool:
    """Ask the thread to stop and wait for it (tests, shutdown); True when it is stopped."""
    global _thread
    with _lock:
        thread = _thread
        _stop.set()
    if thread is None:
        return True
    thread.join(timeout)
    with _lock:
        if not thread.is_alive():
            _thread = None
    return not thread.is_alive()


def role() -> str:
    """``leader`` or ``follower`` of the background work (``stopped`` when this process runs none)."""
    with _lock:
        leadership, running = _leadership, _thread is not None and _thread.is_alive()
    return leadership.role() if leadership is not None and running else "stopped"


def is_running() -> bool:
    with _lock:
        return _thread is not None and _thread.is_alive()


def _loop(engine: Engine, client: UPaymentsClient, interval: float, limit: int, leadership: Leadership) -> None:
    try:
        _lead(engine, client, interval, limit, leadership)
    finally:
        leadership.step_down()
    log.info("background sync stopped")


def _lead(engine: Engine, client: UPaymentsClient, interval: float, limit: int, leadership: Leadership) -> None:
    while not _stop.is_set():
        if not (leadership.try_lead() and leadership.still_leading()):
            _stop.wait(min(interval, TRY_EVERY))  # a follower: another server runs the passes
            continue
        wait = interval
        try:
            report = sync_pending(engine, client, limit=limit, stop=_stop, actor=SYSTEM)
            if report.rate_limited:
                wait = max(interval, report.retry_after or 60.0)  # back off as the gateway asked
            else:
                # Refund intents orphaned by a crash settle from the gateway; executed refunds get tracked.
                settle_uncertain(engine, client, actor=SYSTEM)
                refresh_refunds(engine, client, actor=SYSTEM)
                settle_in_flight(engine, client, actor=SYSTEM)  # saved-card charges whose answer was lost
                # Deposits last, in the lowest lane: whatever budget confirmations and refunds left.
                poll_deposits(engine, client, actor=SYSTEM, limit=limit, stop=_stop)
        except Exception:  # never let one bad pass end the loop
            log.exception("background sync pass failed")
        _stop.wait(wait)
