"""The Customers page in AppTest: the list per role (masked for viewers), opening a customer from a payment id,
and what each role is offered on a customer's page (with the gateway closed: cards cannot be listed)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from services.permissions import Role
from tests.apptest import PAGES, page_env, run_page
from tests.factories import make_payment, make_staff

PAGE = PAGES / "customers.py"


@pytest.fixture
def env(tmp_path, monkeypatch):
    with page_env(tmp_path, monkeypatch, db_name="c.db") as engine:
        for role in Role:
            make_staff(engine, role, f"{role.value}@shop.test", role.value.title())
        for i in range(30):
            make_payment(engine, order_id=f"ORD-{i:03d}", amount_fils=1_000 * (i + 1), method="knet",
                         customer_name=f"Customer {i}", customer_phone=f"+9655000{i % 12:04d}")
        yield engine


def _open(role: Role, **params: str) -> AppTest:
    return run_page(PAGE, f"{role.value}@shop.test", name=role.value.title(), **params)


def _texts(at: AppTest) -> str:
    return " ".join([t.value for t in at.text] + [b.label for b in at.button] + [c.value for c in at.caption])


def test_the_list_is_sorted_paged_and_masked_for_viewers(env) -> None:
    finance = _open(Role.FINANCE)
    assert not finance.exception
    assert finance.title[0].value == "Customers"
    assert "12 customers" in _texts(finance) and "+96550000011" in _texts(finance)
    viewer = _open(Role.VIEWER)
    assert not viewer.exception
    text = _texts(viewer)
    assert "+965 ••••  0011" in text and "50000011" not in text


def test_a_payment_opens_its_customer_and_each_role_is_offered_its_actions(env) -> None:
    sales = _open(Role.SALES, payment="3")  # ORD-002: +96550000002, also bought as "Customer 26" (newest name)
    assert not sales.exception
    assert sales.title[0].value == "Customer 26"
    labels = [b.label for b in sales.button]
    assert "Ask to save a card" in labels and "Remove" not in labels
    assert not any("Saved cards" in s.value for s in sales.subheader)
    viewer = _open(Role.VIEWER, payment="3")
    assert viewer.title[0].value == "Customer 26" and "Ask to save a card" not in [b.label for b in viewer.button]
    assert "+965 ••••  0002" in _texts(viewer) and "50000002" not in _texts(viewer)
    finance = _open(Role.FINANCE, payment="3")
    assert any("Saved cards" in s.value for s in finance.subheader)
    assert finance.error  # the gateway is closed here: one sentence, no stack trace


def test_an_uncertain_charge_is_shown_with_what_to_do_and_only_finance_and_admin_may_settle_it(env) -> None:
    from sqlmodel import Session

    from services.models import CardCharge, CardChargeState
    from services.timeutil import utcnow

    with Session(env) as session:
        session.add(CardCharge(idempotency_key="lost-answer-0001", order_id="SC261127lost", customer_key="+96550000002",
                               card_token="1234567890123456", card_label="VISA 411111xxxxxx1111", amount_fils=4_500,
                               description="Repeat order", requested_by="finance@shop.test",
                               state=CardChargeState.UNCERTAIN, sent_at=utcnow(),
                               error="Uncertain — check with UPayments: the answer was lost."))
        session.commit()
    for role in (Role.VIEWER, Role.FINANCE):
        listed = _open(role)
        banner = " ".join(e.value for e in listed.error)
        assert "1 saved-card charge(s) uncertain — check with UPayments" in banner, role
        assert "SC261127lost" in _texts(listed)
    finance = _open(Role.FINANCE, payment="3")
    alerts = " ".join(e.value for e in finance.error)
    assert "Uncertain — check with UPayments" in alerts and "SC261127lost" in alerts
    assert "Track id (from the payment in the UPayments portal)" in [t.label for t in finance.text_input]
    assert "I searched the UPayments portal for order SC261127lost and found no payment" in [
        c.label for c in finance.checkbox]
    viewer = _open(Role.VIEWER, payment="3")
    assert "Uncertain — check with UPayments" in " ".join(e.value for e in viewer.error)
    assert "A finance or admin person settles it." in _texts(viewer)
    assert not [t for t in viewer.text_input if t.label.startswith("Track id")]
