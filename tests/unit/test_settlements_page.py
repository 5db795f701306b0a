"""The Settlements page (AppTest): finance sees the days and the overdue warning, the month view, a hostile
statement upload without a file is one sentence; viewers read without upload or export; sales cannot open it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.permissions import Role
from services.timeutil import kuwait_day_bounds, kuwait_today
from tests.apptest import PAGES, page_env, run_page, shown
from tests.factories import make_payment, make_staff

PAGE = PAGES / "settlements.py"


@pytest.fixture
def env(tmp_path, monkeypatch):
    with page_env(tmp_path, monkeypatch, gateway_url=None, db_name="settle.db") as engine:
        today = kuwait_today()
        old = kuwait_day_bounds(today - timedelta(days=8))[0] + timedelta(hours=10)
        make_payment(engine, amount_fils=12_500, track_id="T-OLD", order_id="ORD-OLD", created_at=old)
        make_payment(engine, amount_fils=2_000, track_id="T-NEW", order_id="ORD-NEW",
                     created_at=datetime.now(UTC) - timedelta(minutes=5))
        yield engine


def test_finance_sees_the_overdue_day_and_the_month(env) -> None:
    make_staff(env, Role.FINANCE, "fahad@shop.test")
    at = run_page(PAGE, "fahad@shop.test", name=False)
    assert not at.exception
    warnings = [shown(w.value) for w in at.warning]
    assert any(w.startswith("Overdue: the deposit of") and "12.500 KWD" in w for w in warnings)
    assert [m.label for m in at.metric][-1] == "Overdue days" and at.metric[-1].value == "1"
    days = at.dataframe[0].value
    assert "OVERDUE" in list(days["Status"])
    assert at.get("download_button")  # the accountant's CSV
    at.segmented_control(key="settle_view").set_value("month").run()
    assert not at.exception and at.selectbox(key="settle_month").value is not None


def test_matching_without_a_file_says_so(env) -> None:
    make_staff(env, Role.FINANCE, "fahad@shop.test")
    at = run_page(PAGE, "fahad@shop.test", name=False)
    # AppTest cannot upload a file (the browser test does; the file's refusals are in test_statement.py).
    assert at.text_input(key="settle_tolerance").value == "0.000"
    at.button(key="FormSubmitter:settle_statement-Match statement").click().run()
    assert [shown(e.value) for e in at.error] == ["Choose the statement file first."]


def test_viewer_reads_only_and_sales_cannot_open(env) -> None:
    make_staff(env, Role.VIEWER, "victor@shop.test")
    at = run_page(PAGE, "victor@shop.test", name=False)
    assert not at.exception and at.dataframe
    assert not at.get("download_button") and not at.get("file_uploader")
    assert any("Finance and admins can upload" in shown(c.value) for c in at.caption)
    make_staff(env, Role.SALES, "sara@shop.test")
    at = run_page(PAGE, "sara@shop.test", name=False)
    assert not at.dataframe
    assert any("may not view settlements" in shown(e.value) for e in at.error)


def test_the_day_s_payments_are_read_only_while_their_expander_is_open(env) -> None:
    make_staff(env, Role.FINANCE, "fahad@shop.test")
    at = run_page(PAGE, "fahad@shop.test", name=False)
    assert not at.exception
    assert [e.label for e in at.expander] == ["Payments of one deposit day"]
    assert not at.get("selectbox") or all(s.key != "settle_day" for s in at.selectbox)
    assert len(at.dataframe) == 1  # the deposit days only
    at.session_state["settle_day_open"] = True  # what a click on the expander sets
    at.run()
    assert not at.exception
    rows = at.dataframe[1].value
    assert list(rows["Order"]) == ["ORD-NEW"]  # the newest deposit day with payments: today's capture
    at.selectbox(key="settle_day").select_index(1).run()
    assert list(at.dataframe[1].value["Order"]) == ["ORD-OLD"]
    assert list(at.dataframe[1].value["Deposited"]) == ["OVERDUE"]
