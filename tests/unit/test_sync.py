"""Sync and reconciliation without a gateway: parsing, permissions, expiry, drift from the database, retry rules.

The gateway here is a closed loopback port (connection refused at once), so any look-up that should not happen
would show up as an error; one 429 path uses ``httpx.MockTransport``. Verified flows run against the sandbox in
``tests/integration/test_sync*.py``.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import urlencode

import httpx
import pytest
from pydantic import SecretStr
from sqlmodel import Session, col, select

from dashboard import background
from services import sync
from services.audit import verify
from services.db import session_scope
from services.gateway import UPaymentsClient, factory
from services.models import AuditEntry, Payment, PaymentEvent, WebhookEvent
from services.permissions import SYSTEM, PermissionDenied, Role
from services.sync import reconcile
from services.sync import state as syncstate
from services.sync.inbox import InboxFilter, get_event, list_events
from services.sync.receive import receive
from services.timeutil import utcnow
from tests.factories import make_payment, make_staff

CLOSED = "http://127.0.0.1:9/api/v1/"


def _settings(url: str = CLOSED, rate: int = 30) -> SimpleNamespace:
    return SimpleNamespace(gateway_url=url, gateway_token=SecretStr("jtest123"), gateway_timeout_seconds=2.0,
                           status_rate_per_minute=rate, sync_interval_seconds=2)


def _form(**fields: str) -> bytes:
    return urlencode(fields).encode()


def _event(engine, event_id: int) -> WebhookEvent:
    with Session(engine) as session:
        event = session.get(WebhookEvent, event_id)
        assert event is not None
        return event


def _payment(engine, order_id: str) -> Payment:
    with Session(engine) as session:
        payment = session.exec(select(Payment).where(col(Payment.order_id) == order_id)).one()
        return payment


def test_unreadable_body_is_closed_with_the_reason(engine) -> None:
    receipt = receive(engine, b'{"result": "CAPTURED"', "application/json", max_bytes=65536)
    sync.on_webhook_stored(engine, factory.shared_client(_settings()), receipt.event_id)
    assert sync.wait_idle(10)
    event = _event(engine, receipt.event_id)
    assert event.processed_at is not None and event.error is not None and "Unreadable body" in event.error
    assert event.payment_pk is None


def test_body_without_any_id_cannot_be_verified_and_changes_nothing(engine, dead_client) -> None:
    make_payment(engine, order_id="ORD-A", status="pending", method=None)
    receipt = receive(engine, _form(result="CAPTURED", payment_id="123"), "application/x-www-form-urlencoded",
                      max_bytes=65536)
    outcome = sync.process_event(engine, dead_client, receipt.event_id, actor=SYSTEM)
    assert not outcome.verified and not outcome.retry and not outcome.looked_up
    assert outcome.error is not None and "cannot be verified" in outcome.error
    assert _payment(engine, "ORD-A").status == "pending"
    assert _event(engine, receipt.event_id).result == "CAPTURED"


def test_named_order_without_gateway_ids_is_reported_not_trusted(engine, dead_client) -> None:
    make_payment(engine, order_id="ORD-B", status="pending", method=None)
    receipt = receive(engine, _form(order_id="ORD-B", result="CAPTURED"), "application/x-www-form-urlencoded",
                      max_bytes=65536)
    outcome = sync.process_event(engine, dead_client, receipt.event_id, actor=SYSTEM)
    assert outcome.payment_pk == _payment(engine, "ORD-B").id
    assert outcome.error is not None and "no gateway id" in outcome.error
    assert _payment(engine, "ORD-B").status == "pending" and not _payment(engine, "ORD-B").webhook_received


def test_gateway_unreachable_leaves_the_event_open_for_the_next_pass(engine, dead_client) -> None:
    receipt = receive(engine, _form(track_id="T-1", result="CAPTURED", order_id="ORD-C"),
                      "application/x-www-form-urlencoded", max_bytes=65536)
    outcome = sync.process_event(engine, dead_client, receipt.event_id, actor=SYSTEM)
    assert outcome.retry and not outcome.rate_limited
    event = _event(engine, receipt.event_id)
    assert event.processed_at is None and event.error is not None and "look-up failed" in event.error
    assert (event.track_id, event.order_id) == ("T-1", "ORD-C")
    report = sync.sync_pending(engine, dead_client, event_min_age_s=0, actor=SYSTEM)
    assert report.events == 1 and report.errors == 1 and report.checked == 0
    assert syncstate.get_time(engine) is None  # nothing reached the gateway: the badge must not say "synced"
    # by default a fresh event is left to the verifier
    assert sync.sync_pending(engine, dead_client, actor=SYSTEM).events == 0


def test_duplicate_of_a_verified_delivery_needs_no_look_up(engine, dead_client) -> None:
    payment = make_payment(engine, order_id="ORD-D", status="paid", track_id="T-D")
    body = _form(track_id="T-D", result="CAPTURED", order_id="ORD-D")
    first = receive(engine, body, "application/x-www-form-urlencoded", max_bytes=65536)
    with session_scope(engine) as session:  # as if the first delivery had been verified
        event = session.get(WebhookEvent, first.event_id)
        assert event is not None
        event.processed_at, event.payment_pk = utcnow(), payment.id
        session.add(event)
    second = receive(engine, body, "application/x-www-form-urlencoded", max_bytes=65536)
    assert second.duplicate
    # the dead gateway proves no call was made
    outcome = sync.process_event(engine, dead_client, second.event_id, actor=SYSTEM)
    assert outcome.skipped_duplicate and outcome.error is None and outcome.payment_pk == payment.id


def test_reprocess_needs_the_permission_and_is_audited(engine, dead_client) -> None:
    receipt = receive(engine, _form(result="CAPTURED"), "application/x-www-form-urlencoded", max_bytes=65536)
    for role in (Role.FINANCE, Role.SALES, Role.VIEWER):
        with pytest.raises(PermissionDenied):
            sync.process_event(engine, dead_client, receipt.event_id, actor=make_staff(engine, role))
    admin = make_staff(engine, Role.ADMIN, "root@shop.test")
    sync.process_event(engine, dead_client, receipt.event_id, actor=admin)
    with Session(engine) as session:
        rows = session.exec(select(AuditEntry)).all()
    assert [(r.actor, r.action, r.target) for r in rows] == [
        ("root@shop.test", "reprocess_webhook", f"webhook:{receipt.event_id}")]
    assert verify(engine).ok


def test_expired_link_without_any_id_is_expired_by_the_pass(engine, dead_client) -> None:
    now = utcnow()
    make_payment(engine, order_id="OLD", status="pending", method=None, expires_at=now - timedelta(minutes=1),
                 link_state="active")
    make_payment(engine, order_id="FRESH", status="pending", method=None, expires_at=now + timedelta(hours=1))
    report = sync.sync_pending(engine, dead_client, actor=SYSTEM)
    assert report.expired == 1 and report.errors == 0
    assert _payment(engine, "OLD").status == "expired" and _payment(engine, "FRESH").status == "pending"
    with Session(engine) as session:
        events = session.exec(select(PaymentEvent).where(col(PaymentEvent.payment_pk) == _payment(engine, "OLD").id))
        details = [json.loads(e.detail or "{}") for e in events]
    assert {"from": "pending", "to": "expired"}.items() <= details[0].items()
    assert syncstate.get_time(engine) is not None  # a pass that needed no look-up is complete


def test_rate_limit_ends_the_pass_and_reports_it(engine) -> None:
    calls: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(429, json={"message": "Too Many Attempts."}, headers={"Retry-After": "45"})

    for n in range(3):
        make_payment(engine, order_id=f"P{n}", status="pending", method=None, track_id=f"T{n}")
    with UPaymentsClient(CLOSED, "jtest123", transport=httpx.MockTransport(answer)) as client:
        report = sync.sync_pending(engine, client, actor=SYSTEM)
    assert report.rate_limited and report.retry_after == 45
    assert len(calls) == 1 and report.checked == 0  # stopped at the first 429, no hammering
    assert "retry after 45 s" in report.summary()
    assert syncstate.get_time(engine) is None


def test_stop_event_ends_a_pass_before_any_look_up(engine, dead_client) -> None:
    make_payment(engine, order_id="P", status="pending", method=None, track_id="T")
    stop = threading.Event()
    stop.set()
    report = sync.sync_pending(engine, dead_client, stop=stop, actor=SYSTEM)
    assert report.stopped and report.checked == 0 and report.errors == 0


def test_sync_permission_for_staff_callers(engine, dead_client) -> None:
    with pytest.raises(PermissionDenied):
        sync.sync_pending(engine, dead_client, actor=make_staff(engine, Role.VIEWER))
    assert sync.sync_pending(engine, dead_client, actor=make_staff(engine, Role.SALES)).total == 0


def test_refresh_of_a_payment_without_ids_says_so(engine, dead_client) -> None:
    payment = make_payment(engine, order_id="NOID", status="pending", method=None)
    assert payment.id is not None
    with pytest.raises(sync.CannotLookUp, match="no track, invoice or session id"):
        sync.refresh_payment(engine, dead_client, payment_pk=payment.id, actor=SYSTEM)


def test_drift_from_the_database(engine) -> None:
    finance = make_staff(engine, Role.FINANCE)
    make_payment(engine, order_id="POLLED", status="paid", source="link")
    make_payment(engine, order_id="HOOKED", status="paid", source="link", webhook_received=True)
    make_payment(engine, order_id="DEMO", status="paid", source="demo")
    make_payment(engine, order_id="UNSURE", status="pending", method=None, link_state="uncertain")
    receipt = receive(engine, _form(order_id="GHOST", track_id="TX", result="CAPTURED"),
                      "application/x-www-form-urlencoded", max_bytes=65536)
    with session_scope(engine) as session:
        event = session.get(WebhookEvent, receipt.event_id)
        assert event is not None
        event.order_id, event.processed_at, event.error = "GHOST", utcnow(), "The gateway confirms order GHOST…"
        session.add(event)
    items = reconcile.find_drift(engine, finance)
    assert {(i.kind, i.order_id) for i in items} == {
        (reconcile.LINK_UNCERTAIN, "UNSURE"), (reconcile.PAID_WITHOUT_WEBHOOK, "POLLED"),
        (reconcile.WEBHOOK_UNKNOWN_ORDER, "GHOST")}
    ghost = next(i for i in items if i.kind == reconcile.WEBHOOK_UNKNOWN_ORDER)
    assert ghost.event_id == receipt.event_id and ghost.payment_pk is None


def test_uncertain_and_stuck_links_newest_first_within_the_limit(engine) -> None:
    """Both kinds of unsettled link creation, merged newest first and cut at ``limit``; a link still being created
    for less than two minutes and one a verified look-up settled are not drift."""
    finance = make_staff(engine, Role.FINANCE)
    now = utcnow()
    for order_id, minutes, link_state in (("U-OLD", 60, "uncertain"), ("C-MID", 30, "creating"),
                                          ("U-NEW", 5, "uncertain"), ("C-NEW", 4, "creating"),
                                          ("C-FRESH", 1, "creating")):
        make_payment(engine, order_id=order_id, status="pending", method=None, link_state=link_state,
                     created_at=now - timedelta(minutes=minutes))
    make_payment(engine, order_id="U-SETTLED", status="pending", method=None, link_state="uncertain",
                 created_at=now - timedelta(minutes=3), verified_at=now)

    def uncertain(limit: int) -> list[str | None]:
        return [i.order_id for i in reconcile.find_drift(engine, finance, limit=limit)
                if i.kind == reconcile.LINK_UNCERTAIN]

    assert uncertain(200) == ["C-NEW", "U-NEW", "C-MID", "U-OLD"]
    assert uncertain(3) == ["C-NEW", "U-NEW", "C-MID"]


@pytest.mark.parametrize("role", [Role.SALES, Role.VIEWER])
def test_reconciliation_refuses_roles_without_the_permission(engine, dead_client, role) -> None:
    who = make_staff(engine, role)
    payment = make_payment(engine, status="pending", track_id="T9")
    assert payment.id is not None
    with pytest.raises(PermissionDenied):
        reconcile.find_drift(engine, who)
    with pytest.raises(PermissionDenied):
        reconcile.resync(engine, dead_client, who, payment_pk=payment.id)


def test_inbox_lists_newest_first_with_filters_and_needs_the_permission(engine) -> None:
    admin = make_staff(engine, Role.ADMIN)
    payment = make_payment(engine, order_id="ORD-1", status="paid", track_id="T1")
    first = receive(engine, _form(order_id="ORD-1", track_id="T1"), "application/x-www-form-urlencoded",
                    max_bytes=65536)
    receive(engine, b"order_id=ORD-2&result=CAPTURED", None, max_bytes=65536, source="redirect")
    with session_scope(engine) as session:
        event = session.get(WebhookEvent, first.event_id)
        assert event is not None
        event.order_id, event.track_id, event.payment_pk, event.processed_at = "ORD-1", "T1", payment.id, utcnow()
        session.add(event)
    rows, total = list_events(engine, admin)
    assert total == 2 and rows[0].source == "redirect" and rows[1].id == first.event_id
    assert (rows[1].payment_order_id, rows[1].payment_status, rows[1].state) == ("ORD-1", "paid", "verified")
    assert list_events(engine, admin, InboxFilter(state="waiting"))[1] == 1
    assert list_events(engine, admin, InboxFilter(text="T1"))[0][0].id == first.event_id
    assert "ORD-2" in get_event(engine, admin, rows[0].id).body
    for role in (Role.FINANCE, Role.SALES, Role.VIEWER):
        with pytest.raises(PermissionDenied):
            list_events(engine, make_staff(engine, role))


def test_shared_client_is_one_per_settings_and_a_registered_one_wins() -> None:
    first = factory.shared_client(_settings(rate=17))
    assert factory.shared_client(_settings(rate=17)) is first and first.status_limiter.limit == 17
    mine = UPaymentsClient(CLOSED, "jtest123")
    factory.register_client(mine)
    try:
        assert factory.shared_client(_settings(rate=17)) is mine
    finally:
        factory._registered = None
        mine.close()


def test_background_thread_starts_once_and_stops(engine, dead_client) -> None:
    assert background.pass_limit(30, 20) == 20 and background.pass_limit(1, 2) == 5
    try:
        background.ensure_started(_settings(), engine, dead_client)
        background.ensure_started(_settings(), engine, dead_client)
        threads = [t for t in threading.enumerate() if t.name == "souq-sync"]
        assert len(threads) == 1
        deadline = time.monotonic() + 10
        while syncstate.get_time(engine) is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert syncstate.get_time(engine) is not None  # its first pass ran (nothing pending: complete)
    finally:
        assert background.stop()
        factory._registered = None
    assert not background.is_running()


def test_cron_command_exit_codes(engine, tmp_path, monkeypatch, capsys) -> None:
    from dashboard.cli_sync import run_sync
    from services.db import sqlite_url

    monkeypatch.setenv("SOUQ_DATABASE_URL", sqlite_url(tmp_path / "souq.db"))
    monkeypatch.setenv("SOUQ_GATEWAY_URL", CLOSED)
    monkeypatch.setenv("SOUQ_GATEWAY_TIMEOUT_SECONDS", "1")
    monkeypatch.setenv("SOUQ_STATUS_RATE_PER_MINUTE", "600")
    assert run_sync(limit=10) == 0
    assert "sync: checked 0" in capsys.readouterr().out
    make_payment(engine, order_id="P1", status="pending", method=None, track_id="T1")
    assert run_sync(limit=10) == 1  # the gateway cannot be reached: cron should see a failure
    out = capsys.readouterr().out
    assert "errors 1" in out and "Could not reach UPayments" in out
    monkeypatch.setenv("SOUQ_ENVIRONMENT", "production")
    assert run_sync(limit=10) == 1
    assert "SOUQ_GATEWAY_TOKEN" in capsys.readouterr().out


def test_one_event_that_cannot_be_recorded_does_not_undo_its_batch(engine, dead_client) -> None:
    ids = [receive(engine, _form(track_id=f"T{n}", result="CAPTURED"), "application/x-www-form-urlencoded",
                   max_bytes=65536).event_id for n in range(3)]

    class DeletesTheMiddleOne(ThreadPoolExecutor):
        """Runs the look-ups, then removes one event as if it vanished before its outcome was written."""

        def map(self, fn, *iterables, **kwargs):
            done = list(super().map(fn, *iterables, **kwargs))
            with session_scope(engine) as session:
                session.delete(session.get(WebhookEvent, ids[1]))
            return iter(done)

    with DeletesTheMiddleOne(2) as pool:
        outcomes = sync.process_events(engine, dead_client, ids, lookups=pool, actor=SYSTEM)
    assert [o.event_id for o in outcomes] == ids
    assert outcomes[1].error is not None and outcomes[1].error.startswith("Could not be recorded")
    for kept in (ids[0], ids[2]):
        event = _event(engine, kept)
        assert event.track_id is not None and event.error is not None and "look-up failed" in event.error
