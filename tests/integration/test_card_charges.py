"""Charging a saved card exactly once: consent, approval, twins from 2 processes, a lost answer settled by look-up.

Every count of auto-deduct calls is taken at the sandbox (``/__sandbox/auto-deducts``), never at our side.
"""

from __future__ import annotations

import multiprocessing
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from sandbox.cards import DECLINED_TEST_CARD
from services import customers
from services.customers import ChargeError
from services.db import make_engine
from services.models import AuditEntry, CardCharge, CardChargeState, CustomerSummary, Payment, PaymentStatus
from services.permissions import SYSTEM, Actor, PermissionDenied, Role
from services.timeutil import utcnow
from tests.factories import make_db, make_payment, make_staff
from tests.integration.test_refunds_race import _bare_main
from tests.integration.test_refunds_support import client_for

KEY = "+96550001234"
PROCESSES = 2


@dataclass
class Shop:
    card_charge_approval_threshold_fils: int = 50_000


def _admin_base(sandbox: Any) -> str:
    return str(sandbox.api_base).split("/api/")[0]


def _calls(sandbox: Any, order_id: str | None = None) -> list[dict[str, Any]]:
    params = {"order_id": order_id} if order_id else {}
    calls: list[dict[str, Any]] = httpx.get(f"{_admin_base(sandbox)}/__sandbox/auto-deducts", params=params).json()[
        "calls"]
    return calls


def _saved_card(sandbox: Any, number: str = "5123450000000008") -> str:
    body = {"customer_token": customers.unique_token(KEY), "number": number}
    token: str = httpx.post(f"{_admin_base(sandbox)}/__sandbox/cards", json=body).json()["card"]["token"]
    return token


def _customer(engine: Engine) -> None:
    make_payment(engine, customer_phone=KEY, customer_name="Sara", amount_fils=4_000, method="knet")


def _consent(engine: Engine, actor: Actor, card: str) -> None:
    customers.record_consent(engine, actor, key=KEY, card_token=card, agreed_by="Sara",
                             agreed_at=utcnow() - timedelta(hours=1), channel="whatsapp", note="monthly box")


def _charge(engine: Engine, client: Any, actor: Actor, card: str, key: str, amount: str = "12.500") -> CardCharge:
    return customers.charge_saved_card(engine, client, actor, key=KEY, card_token=card, amount=amount,
                                       description="Repeat order: monthly box", idempotency_key=key,
                                       settings_like=Shop())


def test_charge_needs_consent_then_charges_once_and_shows_on_the_customer(tmp_path: Path, sandbox: Any) -> None:
    engine = make_db(tmp_path)
    finance = make_staff(engine, Role.FINANCE)
    _customer(engine)
    card = _saved_card(sandbox)
    with client_for(sandbox.api_base) as client:
        with pytest.raises(ChargeError, match="agreement"):
            _charge(engine, client, finance, card, "no-consent-0001")
        assert _calls(sandbox) == []
        _consent(engine, finance, card)
        charge = _charge(engine, client, finance, card, "first-charge-01")
        assert charge.state == CardChargeState.PAID and charge.track_id
        again = _charge(engine, client, finance, card, "first-charge-01")  # a rerun with the same key
        assert again.id == charge.id
    assert len(_calls(sandbox, charge.order_id)) == 1
    with Session(engine) as session:
        payment = session.exec(select(Payment).where(col(Payment.order_id) == charge.order_id)).one()
        summary = session.get(CustomerSummary, KEY)
        actions = [a.action for a in session.exec(select(AuditEntry)).all()]
    assert (payment.status, payment.amount_fils, payment.customer_name) == (PaymentStatus.PAID, 12_500, "Sara")
    assert summary is not None and (summary.n_paid, summary.captured_fils) == (2, 16_500)
    assert {"card_consent_recorded", "card_charge_requested", "card_charged"} <= set(actions)
    profile = customers.customer_profile(engine, finance, key=KEY)
    assert charge.order_id in [p.order_id for p in profile.payments]


def test_above_the_threshold_a_second_person_approves(tmp_path: Path, sandbox: Any) -> None:
    engine = make_db(tmp_path)
    finance, other = make_staff(engine, Role.FINANCE), make_staff(engine, Role.ADMIN)
    _customer(engine)
    card = _saved_card(sandbox)
    _consent(engine, finance, card)
    with client_for(sandbox.api_base) as client:
        charge = _charge(engine, client, finance, card, "big-charge-0001", amount="75.000")
        assert charge.state == CardChargeState.PENDING_APPROVAL and _calls(sandbox) == []
        with pytest.raises(ChargeError, match="other than"):
            customers.approve_charge(engine, client, finance, charge_id=charge.id or 0)
        done = customers.approve_charge(engine, client, other, charge_id=charge.id or 0)
    assert (done.state, done.approved_by) == (CardChargeState.PAID, other.email)
    assert len(_calls(sandbox)) == 1


def test_declined_card_and_removed_card(tmp_path: Path, sandbox: Any) -> None:
    engine = make_db(tmp_path)
    finance = make_staff(engine, Role.FINANCE)
    _customer(engine)
    bad, good = _saved_card(sandbox, DECLINED_TEST_CARD), _saved_card(sandbox)
    _consent(engine, finance, bad)
    _consent(engine, finance, good)
    with client_for(sandbox.api_base) as client:
        assert _charge(engine, client, finance, bad, "declined-00001").state == CardChargeState.DECLINED
        customers.remove_card(engine, client, finance, key=KEY, card_token=good)
        assert [c.number for c in customers.list_cards(engine, client, finance, key=KEY)] == ["400000xxxxxx0002"]
        with pytest.raises(ChargeError):  # consent revoked with the card; the card is gone at the gateway too
            _charge(engine, client, finance, good, "removed-000001")
        sales = make_staff(engine, Role.SALES)
        with pytest.raises(PermissionDenied):
            _charge(engine, client, sales, bad, "sales-charge-01")
        with pytest.raises(PermissionDenied):
            customers.remove_card(engine, client, sales, key=KEY, card_token=bad)


def _portal_track_id(sandbox: Any, order_id: str) -> str:
    """What a person reads in the UPayments merchant portal: the track id of the payment with our order id."""
    attempts = sandbox.payment(order_id)["attempts"]
    assert len(attempts) == 1
    track: str = attempts[0]["track_id"]
    return track


def _audit(engine: Engine, order_id: str) -> list[AuditEntry]:
    with Session(engine) as session:
        return list(session.exec(select(AuditEntry).where(col(AuditEntry.target) == order_id)
                                 .order_by(col(AuditEntry.seq))).all())


def _payment(engine: Engine, order_id: str) -> Payment:
    with Session(engine) as session:
        return session.exec(select(Payment).where(col(Payment.order_id) == order_id)).one()


def test_a_lost_answer_after_the_charge_is_uncertain_then_settled_by_its_track_id(tmp_path: Path,
                                                                                  sandbox: Any) -> None:
    """The Done-when: a timeout after the call is settled by a status look-up (of the track id a person found in
    the portal, the only look-up live offers for auto-deduct), never by a second charge."""
    engine = make_db(tmp_path)
    finance, admin = make_staff(engine, Role.FINANCE), make_staff(engine, Role.ADMIN)
    _customer(engine)
    card = _saved_card(sandbox)
    _consent(engine, finance, card)
    with client_for(sandbox.api_base) as client:  # another order on this card: its track id is not ours
        other = _charge(engine, client, finance, card, "other-charge-01", amount="12.500")
    # The sandbox charges the card, then holds the answer 2 s; the client gives up after 0.5 s (read timeout).
    sandbox.set_faults(hang_after_seconds=2.0, paths=["auto-deduct"], count=1)
    with client_for(sandbox.api_base, timeout=0.5) as client:
        charge = _charge(engine, client, finance, card, "timeout-charge-1")
        assert charge.state == CardChargeState.UNCERTAIN and "check with UPayments" in str(charge.error)
        twins = [_charge(engine, client, finance, card, "timeout-charge-1") for _ in range(3)]  # reruns
        assert {(t.id, t.state) for t in twins} == {(charge.id, CardChargeState.UNCERTAIN)}
        with pytest.raises(ChargeError, match="uncertain"):  # a retry under a new key could charge twice
            _charge(engine, client, finance, card, "timeout-retry-01")
        assert customers.settle_in_flight(engine, client, actor=SYSTEM) == 0  # nothing it could look up
    assert len(_calls(sandbox, charge.order_id)) == 1  # the gateway charged once
    assert _payment(engine, charge.order_id).status == PaymentStatus.PENDING
    waiting = customers.uncertain_charges(engine, finance)
    assert [(w.charge_id, w.order_id) for w in waiting] == [(charge.id, charge.order_id)]
    track = _portal_track_id(sandbox, charge.order_id)
    cid = charge.id or 0
    with client_for(sandbox.api_base) as client:
        with pytest.raises(PermissionDenied):
            customers.settle_charge(engine, client, make_staff(engine, Role.SALES), charge_id=cid, track_id=track)
        for wrong, sentence in (("NoSuchTrack0001", "does not know the id NoSuchTrack0001"),
                                (other.track_id or "", "belongs to order"),
                                ("bad id!", "only letters, digits"),
                                ("", "Enter the track id")):
            with pytest.raises(ChargeError, match=sentence):
                customers.settle_charge(engine, client, finance, charge_id=cid, track_id=wrong)
        with pytest.raises(ChargeError, match="invoice number"):  # §18 F6: the portal's numeric invoice number
            customers.settle_charge(engine, client, finance, charge_id=cid, invoice_id="784")
        assert customers.uncertain_charges(engine, finance)[0].charge_id == cid  # refusals changed nothing
        settled = customers.settle_charge(engine, client, admin, charge_id=cid, track_id=track)
        again = customers.settle_charge(engine, client, admin, charge_id=cid, track_id=track)  # a double click
        assert (settled.state, settled.track_id, again.state) == (CardChargeState.PAID, track, CardChargeState.PAID)
        assert _charge(engine, client, finance, card, "timeout-charge-1").state == CardChargeState.PAID
        after = _charge(engine, client, finance, card, "after-settled-01", amount="3.000")  # the card is free again
    assert after.state == CardChargeState.PAID
    assert len(_calls(sandbox, charge.order_id)) == 1 and len(_calls(sandbox)) == 3  # other, lost, after
    payment = _payment(engine, charge.order_id)
    assert (payment.status, payment.track_id, payment.amount_fils) == (PaymentStatus.PAID, track, 12_500)
    entries = _audit(engine, charge.order_id)
    assert [e.action for e in entries] == ["card_charge_requested", "card_charge_uncertain", "card_charge_settled"]
    assert entries[-1].actor == admin.email and track in str(entries[-1].after)
    assert customers.uncertain_charges(engine, finance) == []


def test_a_lost_answer_the_gateway_never_acted_on_is_marked_not_charged_with_who_when_why(tmp_path: Path,
                                                                                        sandbox: Any) -> None:
    engine = make_db(tmp_path)
    finance = make_staff(engine, Role.FINANCE)
    _customer(engine)
    card = _saved_card(sandbox)
    _consent(engine, finance, card)
    sandbox.set_faults(error_rate=1.0, paths=["auto-deduct"], count=1)  # a 5xx in front: the handler never ran
    with client_for(sandbox.api_base) as client:
        charge = _charge(engine, client, finance, card, "lost-charge-0001")
        assert charge.state == CardChargeState.UNCERTAIN and "will not be sent again" in str(charge.error)
        assert _charge(engine, client, finance, card, "lost-charge-0001").state == CardChargeState.UNCERTAIN
        assert customers.settle_in_flight(engine, client, actor=SYSTEM) == 0
    assert _calls(sandbox, charge.order_id) == []
    cid = charge.id or 0
    with pytest.raises(PermissionDenied):
        customers.mark_not_charged(engine, make_staff(engine, Role.VIEWER), charge_id=cid, reason="x",
                                   checked_portal=True)
    with pytest.raises(ChargeError, match="search the UPayments merchant portal"):
        customers.mark_not_charged(engine, finance, charge_id=cid, reason="not there", checked_portal=False)
    with pytest.raises(ChargeError, match="Say why"):
        customers.mark_not_charged(engine, finance, charge_id=cid, reason="  ", checked_portal=True)
    assert customers.uncertain_charges(engine, finance)[0].charge_id == cid
    done = customers.mark_not_charged(engine, finance, charge_id=cid, checked_portal=True,
                                      reason="No payment for this order in the UPayments portal")
    assert done.state == CardChargeState.NOT_CHARGED and finance.email in str(done.error)
    assert "No payment for this order" in customers.view(done).message
    assert _payment(engine, charge.order_id).status == PaymentStatus.FAILED
    last = _audit(engine, charge.order_id)[-1]
    assert (last.action, last.actor) == ("card_charge_marked_not_charged", finance.email)
    assert "No payment for this order" in str(last.after) and "checked_portal" in str(last.after)
    with client_for(sandbox.api_base) as client:  # never resent by a rerun; the card may be charged anew
        assert _charge(engine, client, finance, card, "lost-charge-0001").state == CardChargeState.NOT_CHARGED
        assert _charge(engine, client, finance, card, "new-charge-0001").state == CardChargeState.PAID
    assert _calls(sandbox, charge.order_id) == [] and len(_calls(sandbox)) == 1


def test_a_crashed_sender_becomes_uncertain_for_a_person(tmp_path: Path, sandbox: Any) -> None:
    """A ``sending`` charge whose claimant died (no answer recorded) is not looked up by order id (live has no such
    look-up): the background pass makes it uncertain, shown to a person."""
    engine = make_db(tmp_path)
    finance = make_staff(engine, Role.FINANCE)
    _customer(engine)
    card = _saved_card(sandbox)
    stale = utcnow() - timedelta(seconds=customers.charges.STALE_SENDING_SECONDS + 60)
    with Session(engine) as session:
        row = CardCharge(idempotency_key="crashed-charge-1", order_id="SC-crashed-1", customer_key=KEY,
                         card_token=card, amount_fils=2_000, description="Repeat order", requested_by=finance.email,
                         state=CardChargeState.SENDING, sent_at=stale)
        session.add(row)
        session.commit()
        session.refresh(row)
    with client_for(sandbox.api_base) as client:
        assert customers.settle_in_flight(engine, client, actor=SYSTEM) == 0
    assert [w.order_id for w in customers.uncertain_charges(engine, finance)] == ["SC-crashed-1"]
    assert _calls(sandbox) == []


def _twin_process(queue: Any, db_url: str, api_base: str, email: str, card: str, key: str, barrier: Any) -> None:
    engine = make_engine(db_url)
    actor = Actor(email, Role.FINANCE)
    results: list[str] = []
    start = threading.Barrier(4)

    def work() -> None:
        start.wait()
        row = _charge(engine, client, actor, card, key)
        results.append(f"{row.id}:{row.state}")

    with client_for(api_base, timeout=10.0) as client:
        barrier.wait(60)
        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(90)
    engine.dispose()
    queue.put(results)


def test_same_key_twins_across_two_processes_make_one_auto_deduct_call(tmp_path: Path, sandbox: Any) -> None:
    _twins(make_db(tmp_path), sandbox)


@pytest.mark.postgres
def test_same_key_twins_on_postgresql_make_one_auto_deduct_call(sandbox: Any) -> None:
    from tests.postgres import postgres_database

    with postgres_database("card_twins") as engine:
        _twins(engine, sandbox)


def _twins(engine: Engine, sandbox: Any) -> None:
    finance = make_staff(engine, Role.FINANCE)
    _customer(engine)
    card = _saved_card(sandbox)
    _consent(engine, finance, card)
    url = engine.url.render_as_string(hide_password=False)
    ctx = multiprocessing.get_context("spawn")
    queue, barrier = ctx.Queue(), ctx.Barrier(PROCESSES)
    procs = [ctx.Process(target=_twin_process, args=(queue, url, sandbox.api_base, finance.email, card,
                                                     "twin-charge-0001", barrier)) for _ in range(PROCESSES)]
    with _bare_main():
        for proc in procs:
            proc.start()
    outcomes = [o for _ in procs for o in queue.get(timeout=180)]
    for proc in procs:
        proc.join(10)
    with Session(engine) as session:
        rows = session.exec(select(CardCharge)).all()
    assert len(rows) == 1 and rows[0].state == CardChargeState.PAID
    assert outcomes == [f"{rows[0].id}:{CardChargeState.PAID}"] * 8  # every twin reports the one outcome
    assert len(_calls(sandbox)) == 1  # counted at the sandbox


@dataclass
class LinkShop:
    public_url: str = "http://127.0.0.1:9/"
    link_expiry_minutes: int = 60
    gateway_timeout_seconds: float = 10.0


def test_a_link_for_a_present_customer_offers_their_saved_cards(tmp_path: Path, sandbox: Any) -> None:
    from services.links import LinkRequest

    engine = make_db(tmp_path)
    finance = make_staff(engine, Role.FINANCE)
    _customer(engine)
    _saved_card(sandbox)
    with client_for(sandbox.api_base) as client:
        outcome = customers.link_with_saved_cards(
            engine, client, finance, key=KEY, settings_like=LinkShop(),
            request=LinkRequest(idempotency_key="present-link-0001", amount="9.000", description="Repeat order"))
    assert outcome.state == "active" and outcome.link_url
    record = sandbox.payment(outcome.order_id)["payment"]
    assert record["customer"]["mobile"] == KEY
    page = httpx.get(outcome.link_url, follow_redirects=True).text
    assert "Your saved cards" in page and "0008" in page and "5123450000000008" not in page
