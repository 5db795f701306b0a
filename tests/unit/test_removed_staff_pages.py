"""Issue 11 item 5 on the pages: a person removed while their page is open is refused at their next click.

A button callback runs with the page's actor from the previous run; it must read the actor at click time, and
the services re-check it anyway. Gateway on a closed port: nothing here may reach it.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from sqlmodel import Session, col, select
from streamlit.testing.v1 import AppTest

from services import staff
from services.models import AuditEntry, Refund
from services.permissions import Role
from services.sync.receive import receive
from tests.apptest import PAGES, page_env, run_page
from tests.factories import make_payment, make_staff


@pytest.fixture
def env(tmp_path, monkeypatch):
    with page_env(tmp_path, monkeypatch, SOUQ_GATEWAY_TIMEOUT_SECONDS="1",
                  SOUQ_REFUND_APPROVAL_THRESHOLD_FILS="100000") as engine:
        yield engine


def _texts(at: AppTest) -> str:
    parts = [w.value for w in at.warning] + [e.value for e in at.error] + [i.value for i in at.info]
    return "\n".join(str(p) for p in parts)


def _audit_actions(engine) -> list[str]:
    with Session(engine) as session:
        return [a.action for a in session.exec(select(AuditEntry).order_by(col(AuditEntry.seq))).all()]


def test_a_removed_admin_cannot_reprocess_from_an_open_inbox(env) -> None:
    boss = make_staff(env, Role.ADMIN, "boss@shop.test")
    make_staff(env, Role.ADMIN, "root@shop.test")
    receive(env, urlencode({"order_id": "ORD-1", "track_id": "T1", "result": "CAPTURED"}).encode(),
            "application/x-www-form-urlencoded", max_bytes=65536)
    at = run_page(PAGES / "webhooks.py", "root@shop.test")
    at.session_state["inbox_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert at.button(key="inbox_reprocess")
    staff.remove_staff(env, boss, email="root@shop.test")
    before = _audit_actions(env)
    at.button(key="inbox_reprocess").click().run()  # the callback still holds the page's old actor
    assert not at.exception
    assert _audit_actions(env) == before  # no "reprocess_webhook" written as the removed person
    assert "staff account" in _texts(at)


def test_finance_removed_while_the_refunds_page_is_open_writes_no_refund(env) -> None:
    boss = make_staff(env, Role.ADMIN, "boss@shop.test")
    make_staff(env, Role.FINANCE, "fahad@shop.test")
    make_payment(env, order_id="ORD-2", amount_fils=5_000, status="paid", upay_order_id="U2")
    at = run_page(PAGES / "refunds.py", "fahad@shop.test", payment="ORD-2")
    at.button[[b.label for b in at.button].index("Review refund")].click().run()
    assert at.session_state["refund_confirm"]["amount_fils"] == 5_000
    staff.remove_staff(env, boss, email="fahad@shop.test")
    at.button(key="refund_confirm_yes").click().run()
    assert not at.exception
    with Session(env) as session:
        assert session.exec(select(Refund)).all() == []
    assert "staff account" in _texts(at)
