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


class Calls:
    """Counts calls to a services.links function the page uses (the page calls them as ``links.<name>``)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, name: str, effect: Any = None) -> None:
        import services.links

        self.args: list[dict[str, Any]] = []
        real = getattr(services.links, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.args.append(kwargs)
            if effect is not None:
                effect(**kwargs)
            return real(*args, **kwargs)

        monkeypatch.setattr(services.links, name, counted)

    @property
    def n(self) -> int:
        return len(self.args)


def _tick(at: AppTest) -> AppTest:
    """Run the page once as the 3-s watcher's own rerun would: the watcher takes the next run for a tick of its
    own (AppTest has no timer), asks about the awaiting links and compares what the page shows."""
    at.session_state["links_seen_watch"] = at.session_state["links_run"] + 1
    return at.run()


def _select_first(at: AppTest) -> AppTest:
    at.session_state["links_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    return at.run()


def test_a_full_run_reads_an_open_link_once_and_asks_the_gateway_nothing(env, monkeypatch) -> None:
    from services.links import LinkOutcome

    make_staff(env, Role.SALES, "sara@shop.test")
    payment = _link(env, by="sara@shop.test", order_id="SD-1")
    at = _select_first(_page("sara@shop.test"))
    details, refreshes, lists = (Calls(monkeypatch, "link_detail"), Calls(monkeypatch, "refresh_awaiting"),
                                 Calls(monkeypatch, "list_links"))
    # the just-created link's panel and the selected link's panel show the same link: one read for both
    at.session_state["nl_last"] = LinkOutcome(payment_pk=payment.id or 0, order_id="SD-1", state="active",
                                              status="pending", link_url=LINK, message="The link is ready to share.")
    at.run()
    assert not at.exception
    assert details.n == 1 and refreshes.n == 0 and lists.n == 1
    assert any("Awaiting payment" in i.value for i in at.info)  # the status line of the open link


def test_the_watcher_asks_once_and_reruns_the_page_only_when_something_changed(env, monkeypatch) -> None:
    make_staff(env, Role.SALES, "sara@shop.test")
    first = _link(env, by="sara@shop.test", order_id="SD-1")
    second = _link(env, by="sara@shop.test", order_id="SD-2", created_at=utcnow() - timedelta(minutes=5))
    _link(env, by="sara@shop.test", order_id="SD-3", status="paid", paid_at=utcnow(),
          created_at=utcnow() - timedelta(minutes=10))
    at = _select_first(_page("sara@shop.test"))
    assert at.session_state["links_selected"] == first.id

    refreshes, lists = Calls(monkeypatch, "refresh_awaiting"), Calls(monkeypatch, "list_links")
    _tick(at)  # nothing changed: one look-up round for the awaiting links shown, no second page run
    assert not at.exception
    assert refreshes.n == 1 and sorted(refreshes.args[0]["payment_pks"]) == sorted([first.id, second.id])
    assert lists.n == 2  # the page's own read and the watcher's fingerprint; a rerun would read twice more

    def paid(**_kw: Any) -> None:  # the gateway's verified answer arrives during the look-up
        with Session(env) as session:
            row = session.get(Payment, first.id)
            assert row is not None
            row.status, row.paid_at = "paid", utcnow()
            session.add(row)
            session.commit()

    monkeypatch.undo()
    refreshes, lists = Calls(monkeypatch, "refresh_awaiting", paid), Calls(monkeypatch, "list_links")
    _tick(at)
    assert not at.exception
    assert refreshes.n == 1 and lists.n == 3  # changed: the page ran again and shows it
    statuses = dict(zip(_links(at)["Order"], _links(at)["Status"], strict=True))
    assert statuses == {"SD-1": "Paid", "SD-2": "Awaiting payment", "SD-3": "Paid"}
    assert any(s.value.startswith("**Paid**") for s in at.success)
