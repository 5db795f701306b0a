"""Several app servers on one PostgreSQL, part by part: the shared status budget and its lanes, the sync
leader's lock, and a webhook delivery verified once whichever server holds it.

Each "server" is an engine of its own (its own connection pool, so its own PostgreSQL sessions), as each app
server process has; the full three-process run behind nginx is ``tests/e2e/test_multi_server.py``.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlencode

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bench.multi import max_in_window
from sandbox.server import RunningSandbox
from services.db import make_engine
from services.gateway import Lane
from services.gateway.errors import RateLimited
from services.gateway.factory import status_limiter_for
from services.gateway.limiter import SlidingWindowLimiter
from services.gateway.shared_limiter import DatabaseLimiter
from services.leader import Leadership
from services.models import Payment
from services.permissions import SYSTEM
from services.sync import process_events, receive
from services.timeutil import local_day, utcnow
from tests.integration.test_refunds_support import client_for
from tests.postgres import postgres_database

pytestmark = pytest.mark.postgres


@pytest.fixture
def servers() -> Iterator[list[Engine]]:
    """Three engines on one fresh PostgreSQL database: three app servers' connection pools."""
    with postgres_database("multi") as first:
        url = first.url.render_as_string(hide_password=False)
        others = [make_engine(url) for _ in range(2)]
        try:
            yield [first, *others]
        finally:
            for engine in others:
                engine.dispose()


def test_the_factory_keeps_the_budget_in_the_database_only_on_postgres(servers: list[Engine]) -> None:
    url = servers[0].url.render_as_string(hide_password=False)
    assert isinstance(status_limiter_for(url, 30), DatabaseLimiter)
    local = status_limiter_for("sqlite:///data/x.db", 30)
    assert type(local) is SlidingWindowLimiter and local.limit == 30


def test_three_servers_together_never_pass_the_budget(servers: list[Engine]) -> None:
    """Six threads on three servers ask for 18 slots of a 3-per-second budget: any second holds at most 3."""
    limit, window = 3, 1.0
    limiters = [DatabaseLimiter(engine, limit, window) for engine in servers]
    granted: list[float] = []
    lock = threading.Lock()

    def work(limiter: DatabaseLimiter) -> None:
        for _ in range(3):
            slot = limiter.acquire(30.0, lane=Lane.KNOWN)
            with lock:
                granted.append(time.monotonic())
            limiter.release(slot)

    threads = [threading.Thread(target=work, args=(lim,)) for lim in limiters for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(granted) == 18
    # The database decides on its clock; this process notes each grant a moment later, so a 5% shorter window.
    assert max_in_window(granted, window * 0.95) <= limit
    assert limiters[0].in_window() <= limit


def test_a_waiting_confirmation_on_one_server_goes_before_polling_on_another(servers: list[Engine]) -> None:
    limit, window = 3, 2.0
    known, poll, filler = (DatabaseLimiter(engine, limit, window) for engine in servers)
    for _ in range(limit):
        filler.release(filler.acquire(1.0, lane=Lane.KNOWN))
    assert filler.room(Lane.KNOWN) == 0
    with pytest.raises(RateLimited):
        filler.acquire(0.0, lane=Lane.UNKNOWN)  # may not wait: refused at once, nothing recorded
    order: list[str] = []

    def take(limiter: DatabaseLimiter, lane: Lane, name: str) -> None:
        limiter.release(limiter.acquire(30.0, lane=lane))
        order.append(name)

    polling = threading.Thread(target=take, args=(poll, Lane.POLL, "poll"))
    polling.start()
    _wait_for_waiting(servers[0], Lane.POLL)
    confirming = threading.Thread(target=take, args=(known, Lane.KNOWN, "known"))
    confirming.start()
    _wait_for_waiting(servers[0], Lane.KNOWN)
    polling.join(30)
    confirming.join(30)
    assert order == ["known", "poll"]


def _wait_for_waiting(engine: Engine, lane: Lane) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.execute(text("SELECT count(*) FROM status_slot WHERE state = 'waiting' AND lane = :l"),
                            {"l": int(lane)}).scalar_one():
                return
        time.sleep(0.01)
    raise AssertionError(f"no {lane.name} request recorded itself as waiting")


def test_one_leader_and_a_follower_takes_over_when_its_connection_dies(servers: list[Engine]) -> None:
    first, second, third = (Leadership(engine) for engine in servers)
    try:
        assert first.try_lead() and first.role() == "leader"
        assert not second.try_lead() and not third.try_lead()
        assert second.role() == "follower"
        with servers[0].connect() as conn:  # the leader's server dies: its session (and lock) end
            ended = conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = :k "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"),
                {"k": 20_261_190}).scalars().all()
        assert ended == [True]
        assert second.try_lead()
        assert not first.still_leading() and first.role() == "follower"
        assert not first.try_lead() and not third.try_lead()
    finally:
        for leadership in (first, second, third):
            leadership.step_down()


def test_a_delivery_held_by_three_servers_is_looked_up_once(servers: list[Engine],
                                                            sandbox: RunningSandbox) -> None:
    """The same webhook stored on three servers (a gateway retry each time) and verified by all three at once:
    one status look-up, the payment paid, the copies closed or left to the next pass."""
    client = client_for(sandbox.api_base)
    order_id = f"MS{uuid.uuid4().hex[:12].upper()}"
    charge = client.charges.create(order_id=order_id, amount_fils=7_250, description="Multi",
                                   return_url="http://127.0.0.1:9/pay/return",
                                   cancel_url="http://127.0.0.1:9/pay/cancel",
                                   notification_url="http://127.0.0.1:9/webhooks/upayments")
    now = utcnow()
    with servers[0].begin() as conn:
        conn.execute(Payment.__table__.insert().values(  # type: ignore[attr-defined]
            order_id=order_id, amount_fils=7_250, currency="KWD", status="pending", session_id=charge.session_id,
            link_url=charge.link, link_state="active", source="link", created_at=now, local_day=local_day(now),
            updated_at=now, webhook_received=False, refunded_fils=0))
    done = sandbox.complete(charge.session_id, wait_webhook=False)
    body = urlencode(parse_qsl(str(done["redirect_url"]).rsplit("?", 1)[1], keep_blank_values=True)).encode()
    events = [receive(engine, body, "application/x-www-form-urlencoded", max_bytes=65_536).event_id
              for engine in servers]
    asked: list[int] = []
    original = client.payments.status

    def counting(*args: object, **kwargs: object) -> object:
        asked.append(1)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    client.payments.status = counting  # type: ignore[method-assign,assignment]
    start = threading.Barrier(len(servers) * 2)
    outcomes = []

    def verify(engine: Engine, event_ids: list[int]) -> None:
        start.wait(10)
        outcomes.extend(process_events(engine, client, event_ids, actor=SYSTEM))

    jobs = [(engine, [event]) for engine in servers for event in (events[0], events[servers.index(engine)])]
    threads = [threading.Thread(target=verify, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    client.close()
    assert len(outcomes) == len(jobs)
    assert sum(o.looked_up for o in outcomes) == 1
    assert len(asked) == 1
    with servers[1].connect() as conn:
        assert conn.execute(text("SELECT status FROM payment WHERE order_id = :o"), {"o": order_id}).scalar_one() \
            == "paid"
