"""The payment-links page in AppTest against the real sandbox: create from the form, resubmit, share, see paid."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select
from streamlit.testing.v1 import AppTest

from sandbox.server import RunningSandbox
from services.models import Payment, PaymentEvent
from services.permissions import Role
from tests.apptest import PAGES, page_env, run_page
from tests.factories import make_staff

PAGE = PAGES / "links.py"


@pytest.fixture
def env(tmp_path: Path, sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch):
    with page_env(tmp_path, monkeypatch, environment="sandbox", gateway_url=sandbox.api_base,
                  SOUQ_GATEWAY_TOKEN="jtest123",
                  SOUQ_PUBLIC_URL="http://127.0.0.1:9/",  # nobody listens: webhooks are not needed here
                  SOUQ_STATUS_RATE_PER_MINUTE="600") as engine:
        make_staff(engine, Role.SALES, "sara@shop.test")
        yield engine


def _page() -> AppTest:
    return run_page(PAGE, "sara@shop.test", name="Sara")


def _fill_and_submit(at: AppTest, **values: str) -> None:
    gen = at.session_state["nl_gen"]
    for name, value in values.items():
        at.text_input(key=f"nl_{name}_{gen}").input(value)
    next(b for b in at.button if b.label == "Create link").click()
    at.run()


def _charges(sandbox: RunningSandbox) -> int:
    uri = f"file:{Path(sandbox.config.db_path).resolve()}?mode=ro"
    with sqlite3.connect(uri, uri=True) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM payment").fetchone()[0])


def test_sales_creates_shares_and_sees_it_paid(env, sandbox: RunningSandbox, monkeypatch) -> None:
    from services.links import follow as link_follow

    monkeypatch.setattr(link_follow, "REFRESH_INTERVAL", 0.0)  # no webhook here: let the page poll at once
    at = _page()
    key = at.session_state["nl_key"]
    _fill_and_submit(at, amount="12.5", phone="+٩٦٥ ٥٥١٢ ٣٤٥٦", desc="Blue abaya", name="Huda")
    assert not at.exception, at.exception
    with Session(env) as session:
        payment = session.exec(select(Payment)).one()
    assert payment.link_state == "active" and payment.amount_fils == 12_500 and payment.link_url
    assert any(c.value == payment.link_url for c in at.code)  # the copy-able link
    buttons: list[Any] = list(at.get("link_button"))  # AppTest types them loosely
    wa = next(b for b in buttons if b.label.startswith("Send on WhatsApp"))
    assert wa.proto.url.startswith("https://wa.me/96555123456?text=")
    downloads: list[Any] = list(at.get("download_button"))
    assert [d.label for d in downloads] == ["Download QR"]
    assert at.session_state["nl_key"] != key  # the next link is a new intent
    # a double click: the same form (same key) submitted again finds the same link, no second charge
    at.session_state["nl_last"] = None
    at.run()
    at.session_state["nl_key"] = key
    _fill_and_submit(at, amount="12.5", phone="55123456", desc="Blue abaya", name="Huda")
    assert any("already sent" in i.value for i in at.info)
    assert _charges(sandbox) == 1
    # the customer pays; the page's 3-s watcher asks the gateway (a verified look-up), sees the change and runs
    # the page again. AppTest has no timer: the next run stands in for the watcher's own tick.
    sandbox.complete(invoice_id=payment.invoice_id, method="knet", wait_webhook=False)
    at.session_state["links_seen_watch"] = at.session_state["links_run"] + 1
    at.run()
    assert any("Paid" in s.value for s in at.success), [s.value for s in at.success]
    with Session(env) as session:
        kinds = session.exec(select(PaymentEvent.kind).where(col(PaymentEvent.payment_pk) == payment.id)).all()
    assert "created" in kinds and "link_active" in kinds and "status" in kinds
