"""Deposit status against the real sandbox: only "Yes" is deposited, the poller spends the budget on payments
whose deposit day has come (newest first), within the lowest lane; the Transactions filter and detail show it."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from sandbox.server import RunningSandbox
from services import settlements
from services.gateway import Lane, UPaymentsClient
from services.gateway.errors import RateLimited
from services.gateway.limiter import SlidingWindowLimiter
from services.models import Deposit
from services.permissions import SYSTEM, Role
from services.search import SearchFilter, filter_from_query, filter_to_query, payment_detail, search
from tests.factories import make_db, make_payment, make_staff
from tests.integration.conftest import TOKEN, Api


@pytest.fixture
def client(sandbox: RunningSandbox):
    with UPaymentsClient(sandbox.api_base, TOKEN, status_rate_per_minute=600) as c:
        yield c


def _age(sandbox: RunningSandbox, track_id: str, days: int) -> datetime:
    when = datetime.now(UTC) - timedelta(days=days)
    with sqlite3.connect(sandbox.config.db_path) as db:
        db.execute("UPDATE attempt SET created_at = ? WHERE track_id = ?", (when.isoformat(timespec="microseconds"),
                                                                            track_id))
    return when


def test_poller_stores_yes_with_date_and_invoice_and_leaves_not_yet(tmp_path, sandbox, client, api: Api) -> None:
    engine = make_db(tmp_path)
    finance = make_staff(engine, Role.FINANCE)
    old = api.paid(order_id="ORD-OLD")
    fresh = api.paid(order_id="ORD-FRESH")
    old_at = _age(sandbox, old["track_id"], 10)
    older_not_yet = api.paid(order_id="ORD-HELD")  # captured today in the sandbox, but our cache says 9 days ago
    p_old = make_payment(engine, order_id="ORD-OLD", track_id=old["track_id"], created_at=old_at)
    p_fresh = make_payment(engine, order_id="ORD-FRESH", track_id=fresh["track_id"])
    p_held = make_payment(engine, order_id="ORD-HELD", track_id=older_not_yet["track_id"],
                          created_at=old_at + timedelta(days=1))

    due = settlements.due_for_check(engine)
    assert due == [p_held.id, p_old.id]  # today's capture is not due yet; the newest due capture comes first

    report = settlements.poll_deposits(engine, client, actor=SYSTEM)
    assert (report.checked, report.deposited, report.errors) == (2, 1, 0)
    detail = payment_detail(engine, finance, payment_pk=p_old.id or 0)
    assert detail.deposit is not None and detail.deposit.deposited
    assert detail.deposit.deposited_at is not None and detail.deposit.invoice_url
    assert detail.deposit.invoice_url.endswith(old["track_id"])
    held = settlements.deposit_of(engine, finance, payment_pk=p_held.id or 0)
    assert held is not None and not held.deposited and held.deposited_at is None and held.checks == 1
    # A "not yet" is not asked again within the recheck interval: the budget goes elsewhere.
    assert settlements.due_for_check(engine) == []
    assert settlements.due_for_check(engine, now=datetime.now(UTC) + timedelta(hours=1)) == [p_held.id]

    # Transactions: "not yet deposited" finds the paid payments without a "Yes", and survives the URL.
    flt = SearchFilter(not_deposited=True)
    assert filter_from_query(filter_to_query(flt)) == flt and filter_to_query(flt) == {"undeposited": "1"}
    found = {r.order_id for r in search(engine, finance, flt).rows}
    assert found == {p_fresh.order_id, p_held.order_id}
    assert p_old.order_id in {r.order_id for r in search(engine, finance, SearchFilter()).rows}


def test_only_the_word_yes_means_deposited(tmp_path, sandbox, client, api: Api) -> None:
    engine = make_db(tmp_path)
    paid = api.paid(order_id="ORD-Y")
    payment = make_payment(engine, order_id="ORD-Y", track_id=paid["track_id"],
                           created_at=_age(sandbox, paid["track_id"], 10))
    row = settlements.check_payment(engine, client, SYSTEM, payment_pk=payment.id or 0)
    assert row.deposited
    # Once "Yes", a later odd answer ("No", "true", junk) never turns it back.
    from services.gateway import DepositStatus
    from services.settlements.deposits import record

    for word in ("No", "true", "1", "yes please", None):
        assert DepositStatus.model_validate({"deposited": word}).deposited is False
        assert record(engine, payment.id or 0, DepositStatus.model_validate({"deposited": word})).deposited


def test_deposit_lane_is_last_and_takes_only_its_share() -> None:
    now = [0.0]
    limiter = SlidingWindowLimiter(30, 60.0, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert limiter.deposit_share == 6
    for _ in range(6):
        limiter.acquire(0, lane=Lane.DEPOSIT)
    with pytest.raises(RateLimited):
        limiter.acquire(0, lane=Lane.DEPOSIT)
    assert limiter.room(Lane.POLL) == 21 and limiter.room(Lane.KNOWN) == 24
    limiter._waiting[Lane.UNKNOWN] += 1  # any other lane waiting: deposits give way even with room left
    now[0] = 61.0
    with pytest.raises(RateLimited):
        limiter.acquire(0.01, lane=Lane.DEPOSIT)
    limiter._waiting[Lane.UNKNOWN] -= 1
    limiter.acquire(0, lane=Lane.DEPOSIT)


def test_deposit_model_has_no_amount() -> None:
    # §18 F11: the gateway gives no amounts; ours come from captured minus refunded.
    assert "amount" not in " ".join(Deposit.model_fields)


def test_sandbox_business_day_clock_and_the_demo_compression(sandbox: RunningSandbox, api: Api) -> None:
    paid = api.paid(order_id="ORD-CLOCK")
    answer = api.get(f"get-deposit-status/{paid['track_id']}").json()["data"]["transaction"]
    assert answer == {"deposited": "No", "deposited_date": None, "invoice_url": None}  # next business day, 17:00
    # Captured on Thursday 19 March 2026, before Eid al-Fitr: deposited Monday 23 March at 17:00 Kuwait.
    with sqlite3.connect(sandbox.config.db_path) as db:
        db.execute("UPDATE attempt SET created_at = ? WHERE track_id = ?",
                   ("2026-03-19T10:00:00.000000+00:00", paid["track_id"]))
    answer = api.get(f"get-deposit-status/{paid['track_id']}").json()["data"]["transaction"]
    assert answer["deposited"] == "Yes" and answer["deposited_date"] == "2026-03-23 17:00:00"
    # Demo mode's compressed clock: a payment made now is deposited seconds later.
    sandbox.configure(deposit_delay_seconds=0)
    now = api.paid(order_id="ORD-NOW")
    answer = api.get(f"get-deposit-status/{now['track_id']}").json()["data"]["transaction"]
    assert answer["deposited"] == "Yes" and answer["invoice_url"].endswith(now["track_id"])
