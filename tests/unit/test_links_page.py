"""The payment-links page in AppTest: roles, field errors next to the fields, the list, a link's detail."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from services.models import Payment, PaymentEvent
from services.permissions import Role
from services.timeutil import utcnow
from tests.apptest import PAGES, page_env, run_page, shown
from tests.factories import make_payment, make_staff

PAGE = PAGES / "links.py"
LINK = "https://sandbox.test/invoice/AbC123"


@pytest.fixture
def env(tmp_path, monkeypatch):
    with page_env(tmp_path, monkeypatch) as engine:  # the closed gateway: nothing may reach it here
        yield engine


def _page(email: str) -> AppTest:
    return run_page(PAGE, email)


def _link(engine, *, by: str, order_id: str, status: str = "pending", **kw):
    fields: dict[str, Any] = dict(source="link", link_state="active", link_url=LINK, created_by=by, method=None,
                  customer_phone="+96555123456", customer_name="Sara", description="Abaya",
                  expires_at=utcnow() + timedelta(hours=5))
    fields.update(kw)
    return make_payment(engine, order_id=order_id, status=status, **fields)


def _links(at: AppTest):
    """The links table (the form's items editor is a dataframe too)."""
    return next(d.value for d in at.dataframe if "Order" in d.value.columns)


def _timeline(at: AppTest):
    return next(d.value for d in at.dataframe if "What" in d.value.columns)


def test_viewer_sees_all_links_but_cannot_create_or_share(env) -> None:
    make_staff(env, Role.VIEWER, "vic@shop.test")
    _link(env, by="sara@shop.test", order_id="SD-1")
    at = _page("vic@shop.test")
    assert not at.exception
    assert not at.get("form") and all(b.label != "Create link" for b in at.button)
    table = _links(at)
    assert list(table["Order"]) == ["SD-1"] and list(table["Status"]) == ["Awaiting payment"]


def test_sales_sees_their_own_links_by_default_and_can_widen(env) -> None:
    make_staff(env, Role.SALES, "sara@shop.test")
    _link(env, by="sara@shop.test", order_id="SD-MINE", amount_fils=12_500)
    _link(env, by="omar@shop.test", order_id="SD-OTHER", status="paid")
    at = _page("sara@shop.test")
    assert not at.exception
    assert list(_links(at)["Order"]) == ["SD-MINE"]
    assert list(_links(at)["Amount"]) == ["12.500 KWD"]
    at.toggle(key="links_mine").set_value(False).run()
    assert sorted(_links(at)["Order"]) == ["SD-MINE", "SD-OTHER"]
    at.selectbox(key="links_status").set_value("paid").run()
    assert list(_links(at)["Order"]) == ["SD-OTHER"]


def test_field_errors_appear_next_to_the_fields_and_nothing_is_created(env) -> None:
    make_staff(env, Role.SALES, "sara@shop.test")
    at = _page("sara@shop.test")
    gen = at.session_state["nl_gen"]
    at.text_input(key=f"nl_amount_{gen}").input("12.5001")
    at.text_input(key=f"nl_phone_{gen}").input("12")
    next(b for b in at.button if b.label == "Create link").click()
    at.run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any("at most 3 decimals" in e for e in errors)
    assert any("not a valid phone number" in e for e in errors)
    assert any("what the payment is for" in e for e in errors)
    with Session(env) as session:
        assert session.exec(select(Payment)).first() is None


def test_selecting_a_link_shows_its_timeline_and_share_buttons(env) -> None:
    make_staff(env, Role.SALES, "sara@shop.test")
    payment = _link(env, by="sara@shop.test", order_id="SD-1", language="ar")
    with Session(env) as session:
        session.add(PaymentEvent(payment_pk=payment.id or 0, kind="created", actor="sara@shop.test",
                                 detail="{}"))
        session.commit()
    at = _page("sara@shop.test")
    at.session_state["links_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    assert at.session_state["links_selected"] == payment.id
    buttons: list[Any] = list(at.get("link_button"))
    labels = [shown(b.label) for b in buttons]
    assert "Send on WhatsApp to +96555123456" in labels and "Send a reminder on WhatsApp" in labels
    wa = next(b for b in buttons if b.label.startswith("Send on WhatsApp"))
    assert wa.proto.url.startswith("https://wa.me/96555123456?text=")
    from urllib.parse import parse_qs, urlsplit

    text = parse_qs(urlsplit(wa.proto.url).query)["text"][0]
    assert "١٫٥٠٠ د.ك" in text and "متجر" in text  # the customer's language: Arabic amount and shop name
    assert any(c.value == LINK for c in at.code)
    timeline = _timeline(at)
    assert "Link requested" in list(timeline["What"])
