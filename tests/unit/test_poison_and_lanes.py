"""The notification parser raises nothing but UnreadableNotification; the limiter's lanes; the schema upgrade
of a database made by older code; a re-process of an unusable delivery reports its reason."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from services import sync
from services.db import create_schema, make_engine, sqlite_url
from services.gateway import Lane, RedirectParams, UPaymentsClient, parse_notification
from services.gateway.errors import RateLimited
from services.gateway.limiter import SlidingWindowLimiter
from services.gateway.redirect import UnreadableNotification
from services.models import WebhookEvent
from services.permissions import Role
from services.sync.receive import receive
from tests.factories import make_db, make_staff

_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                 max_size=3), max_leaves=20)


@settings(max_examples=400, deadline=None)
@given(body=st.binary(max_size=400) | _json.map(lambda v: json.dumps(v).encode()),
       content_type=st.sampled_from([None, "application/json", "text/plain", "application/x-www-form-urlencoded"]))
def test_parser_raises_only_its_own_error(body: bytes, content_type: str | None) -> None:
    try:
        params = parse_notification(body, content_type)
    except UnreadableNotification as exc:
        assert str(exc)  # refused with a reason; any other exception fails the test
    else:
        assert isinstance(params, RedirectParams)


@pytest.mark.parametrize("depth", [17, 1_000, 20_000])
def test_deep_nesting_is_refused_before_the_recursive_parser(depth: int) -> None:
    body = b'{"track_id":' + b"[" * depth + b"]" * depth + b"}"
    with pytest.raises(UnreadableNotification, match="nested deeper"):
        parse_notification(body[:65_536], "application/json")


def test_nesting_inside_strings_does_not_count() -> None:
    body = json.dumps({"note": "[[[[{{{{" * 10, "track_id": "ABC"}).encode()
    assert parse_notification(body, "application/json").track_id == "ABC"


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_unknown_ids_get_only_their_small_share_and_polling_leaves_the_reserve() -> None:
    clock = _Clock()
    limiter = SlidingWindowLimiter(30, 60.0, clock=clock, sleep=clock.sleep)
    assert (limiter.reserve, limiter.unknown_share) == (3, 3)
    for _ in range(3):
        limiter.acquire(0, lane=Lane.UNKNOWN)
    with pytest.raises(RateLimited):
        limiter.acquire(0, lane=Lane.UNKNOWN)
    for _ in range(24):
        limiter.acquire(0, lane=Lane.POLL)
    with pytest.raises(RateLimited):
        limiter.acquire(0, lane=Lane.POLL)
    assert limiter.room(Lane.KNOWN) == 3 and limiter.room(Lane.POLL) == 0
    for _ in range(3):
        limiter.acquire(0, lane=Lane.KNOWN)  # a known payment still gets its look-ups at once
    assert limiter.in_window() == 30


def test_a_waiting_known_look_up_goes_before_polling() -> None:
    clock = _Clock()
    limiter = SlidingWindowLimiter(2, 60.0, clock=clock, sleep=clock.sleep, reserve=0)
    limiter.acquire(0, lane=Lane.KNOWN)
    limiter.acquire(0, lane=Lane.KNOWN)
    limiter._waiting[Lane.KNOWN] += 1  # as if a known look-up were asleep waiting for the next free slot
    clock.now = 61.0
    with pytest.raises(RateLimited):
        limiter.acquire(0.01, lane=Lane.POLL)
    limiter._waiting[Lane.KNOWN] -= 1
    limiter.acquire(0, lane=Lane.POLL)


def test_a_database_made_by_older_code_gains_the_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:  # the webhookevent table exactly as today's main created it
        conn.execute("CREATE TABLE webhookevent (id INTEGER NOT NULL PRIMARY KEY, received_at DATETIME NOT NULL, "
                     "source VARCHAR(16) NOT NULL, content_type VARCHAR(128), body TEXT NOT NULL, "
                     "dedupe_key VARCHAR(64) NOT NULL, track_id VARCHAR(64), order_id VARCHAR(64), "
                     "result VARCHAR(32), payment_pk INTEGER, duplicate BOOLEAN NOT NULL, processed_at DATETIME, "
                     "error VARCHAR(1000))")
        conn.execute("INSERT INTO webhookevent (received_at, source, body, dedupe_key, duplicate) "
                     "VALUES ('2026-01-01 00:00:00', 'webhook', 'track_id=OLD', 'k', 0)")
    engine = make_engine(sqlite_url(path))
    create_schema(engine)
    create_schema(engine)  # idempotent
    with Session(engine) as session:
        old = session.get(WebhookEvent, 1)
        assert old is not None and old.attempts == 0 and old.unusable_reason is None
    receipt = receive(engine, b"track_id=NEW", "application/x-www-form-urlencoded", max_bytes=1024, remote="1.2.3.4")
    with Session(engine) as session:
        new = session.get(WebhookEvent, receipt.event_id)
        assert new is not None and new.remote == "1.2.3.4"


def test_reprocess_of_an_unusable_delivery_shows_its_reason(tmp_path: Path) -> None:
    engine = make_db(tmp_path)
    body = b'{"track_id":' + b"[" * 3000 + b"]" * 3000 + b"}"
    receipt = receive(engine, body, "application/json", max_bytes=65_536)
    assert receipt.unusable is not None and "nested deeper" in receipt.unusable
    with UPaymentsClient("http://127.0.0.1:9/api/v1/", "jtest123", max_retries=0, connect_timeout=1) as dead:
        outcome = sync.process_event(engine, dead, receipt.event_id, actor=make_staff(engine, Role.ADMIN))
    assert not outcome.looked_up and not outcome.retry
    assert outcome.error is not None and "nested deeper" in outcome.error
