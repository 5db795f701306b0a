"""The webhook inbox and reconciliation pages in AppTest (gateway on a closed port: nothing can be verified here)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from services.db import session_scope
from services.models import AuditEntry, WebhookEvent
from services.permissions import Role
from services.sync.receive import receive
from services.timeutil import utcnow
from tests.apptest import PAGES, page_env, run_page, shown
from tests.factories import make_payment, make_staff

INBOX = PAGES / "webhooks.py"
RECON = PAGES / "reconciliation.py"


@pytest.fixture
def env(tmp_path, monkeypatch):
    # the closed gateway; page_env also empties the page caches (keyed by user, not by database) first
    with page_env(tmp_path, monkeypatch, SOUQ_GATEWAY_TIMEOUT_SECONDS="1") as engine:
        yield engine



def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
    parts += [w.value for w in at.warning] + [s.value for s in at.success] + [e.value for e in at.error]
    return "\n".join(str(p) for p in parts)


def test_inbox_lists_deliveries_and_shows_a_raw_body_as_text(env) -> None:
    make_staff(env, Role.ADMIN, "root@shop.test")
    payment = make_payment(env, order_id="ORD-7", status="paid", track_id="T7")
    first = receive(env, urlencode({"order_id": "ORD-7", "track_id": "T7", "result": "CAPTURED"}).encode(),
                    "application/x-www-form-urlencoded", max_bytes=65536)
    with session_scope(env) as session:
        event = session.get(WebhookEvent, first.event_id)
        assert event is not None
        event.order_id, event.track_id, event.result = "ORD-7", "T7", "CAPTURED"
        event.payment_pk, event.processed_at = payment.id, utcnow()
        session.add(event)
    receive(env, b"<script>alert(1)</script>&order_id=[x](http://evil.test)", "text/plain", max_bytes=65536,
            source="redirect")
    at = run_page(INBOX, "root@shop.test")
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["Source"]) == ["Redirect", "Webhook"]  # newest first
    assert list(table["Matched payment"]) == ["", "ORD-7 · Paid"] and list(table["State"])[1] == "Verified"
    at.session_state["inbox_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert "<script>alert(1)</script>" in at.code[0].value  # shown verbatim in a code block, never rendered
    assert [b.label for b in at.button if b.key == "inbox_reprocess"] == ["Re-process"]


def test_inbox_shows_how_a_delivery_came_and_its_query_string(env) -> None:
    make_staff(env, Role.ADMIN, "root@shop.test")
    receive(env, b"", None, max_bytes=65536, query="track_id=T9&result=CAPTURED&note=%5Bx%5D(http://evil.test)",
            method="GET")
    at = run_page(INBOX, "root@shop.test")
    at.session_state["inbox_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    assert "Came by:** get\\-query" in _texts(at)  # md() escapes the dash
    assert at.code[0].value == "?track_id=T9&result=CAPTURED&note=%5Bx%5D(http://evil.test)"  # as text


def test_reprocess_from_the_inbox_reports_what_happened(env) -> None:
    make_staff(env, Role.ADMIN, "root@shop.test")
    receive(env, b"result=CAPTURED&order_id=[pwn](http://evil.test)", "application/x-www-form-urlencoded",
            max_bytes=65536)
    at = run_page(INBOX, "root@shop.test")
    at.session_state["inbox_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    at.button(key="inbox_reprocess").click().run()
    assert not at.exception
    assert "cannot be verified" in _texts(at)
    with Session(env) as session:
        assert [a.action for a in session.exec(select(AuditEntry)).all()] == ["reprocess_webhook"]
    assert "[pwn](http" not in _texts(at)  # ids from bodies are escaped, not rendered as links


def test_reconciliation_lists_drift_and_resync_failure_is_one_sentence(env) -> None:
    make_staff(env, Role.FINANCE, "fin@shop.test")
    make_payment(env, order_id="POLLED", status="paid", source="link", track_id="TP")
    make_payment(env, order_id="UNSURE", status="pending", method=None, link_state="uncertain")
    at = run_page(RECON, "fin@shop.test")
    assert not at.exception
    text = _texts(at)
    assert "POLLED" in text and "UNSURE" in text and "Paid, but no webhook arrived" in text
    assert at.button(key="recon_all").label == "Re-sync all shown (2)"
    at.button(key="recon_one_paid_without_webhook_1").click().run()
    assert not at.exception
    assert "Re-synced 0 payments, 1 failed." in [w.value for w in at.warning]
    assert "could not be reached" in _texts(at)


def test_sync_now_runs_a_pass_with_progress(env) -> None:
    make_staff(env, Role.ADMIN, "root@shop.test")
    at = run_page(RECON, "root@shop.test")
    assert "**Last sync:** never" in _texts(at)
    at.button(key="recon_sync").click().run()
    assert not at.exception
    assert "Checked 0, changed 0" in shown(_texts(at))
    assert "**Last sync:** just now" in _texts(at.run())


def test_viewer_and_sales_cannot_use_reconciliation(env) -> None:
    make_staff(env, Role.SALES, "sam@shop.test")
    at = run_page(RECON, "sam@shop.test")
    assert "may not reconcile" in "\n".join(e.value for e in at.error)
