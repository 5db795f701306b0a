"""The analytics page in AppTest: renders for a viewer and an admin, empty state, bookmarkable period."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import inspect
from streamlit.testing.v1 import AppTest

from services.permissions import Role
from services.timeutil import kuwait_day_bounds, to_kuwait, utcnow
from tests.apptest import PAGES, page_env, run_page
from tests.factories import make_payment, make_staff

PAGE = PAGES / "analytics.py"


@pytest.fixture
def env(tmp_path, monkeypatch):
    with page_env(tmp_path, monkeypatch) as engine:  # the closed gateway: the page needs none
        yield engine


def _page(email: str, **query: str) -> AppTest:
    return run_page(PAGE, email, **query)


def _seed(engine) -> None:
    today = to_kuwait(utcnow()).date()
    noon = kuwait_day_bounds(today)[0] + timedelta(hours=9)  # 09:00 UTC = 12:00 Kuwait, today
    make_payment(engine, amount_fils=12_500, method="knet", status="paid", created_at=noon)
    make_payment(engine, amount_fils=7_250, method="apple_pay", status="paid", created_at=noon)
    make_payment(engine, amount_fils=3_000, method="card", status="failed", created_at=noon)
    make_payment(engine, amount_fils=5_000, method="knet", status="paid", created_at=noon - timedelta(days=40))


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ADMIN])
def test_page_renders_kpis_split_and_charts(env, role) -> None:
    make_staff(env, role, "boss@shop.test")
    _seed(env)
    at = _page("boss@shop.test", period="last_7_days")
    assert not at.exception and not at.error
    assert at.title[0].value == "Analytics"
    metrics = _metrics(at)
    assert metrics["Gross captured"] == "19.750 KWD"
    assert metrics["Captured payments"] == "2" and metrics["All payment attempts"] == "3"
    assert metrics["Success rate"] == "66.7%"
    assert metrics["KNET"] == "63.3%" and metrics["Wallet"] == "36.7%" and metrics["Card"] == "0.0%"
    deltas = {m.label: m.delta for m in at.metric}
    assert deltas["Gross captured"] == "+19.750 KWD"  # nothing in the previous 7 days: no percentage
    assert deltas["Refunded"] == "+0.000 KWD"
    helps = {m.label: m.help for m in at.metric}
    assert "Captured ÷ (captured + failed + cancelled)" in helps["Success rate"]
    downloads = at.get("download_button")
    assert len(downloads) >= 5  # volume, families, wallets, success, hours (no refunds: an info instead)
    assert any("No refunds were made" in i.value for i in at.info)
    assert at.query_params["period"] == "last_7_days"
    assert any("Kuwait time, as far as today has run" in c.value for c in at.caption)  # the period ends today
    assert "payment_search_daily" in inspect(env).get_table_names()  # figures came from the shared summary


def test_empty_database_shows_a_friendly_empty_state(env) -> None:
    make_staff(env, Role.VIEWER, "vic@shop.test")
    at = _page("vic@shop.test")
    assert not at.exception and not at.error
    assert any("No payments or refunds" in i.value for i in at.info)
    assert _metrics(at)["Gross captured"] == "0.000 KWD"
    assert not at.get("download_button") and not at.get("plotly_chart")


def test_custom_period_from_the_url_and_family_filter(env) -> None:
    make_staff(env, Role.VIEWER, "vic@shop.test")
    _seed(env)
    old = to_kuwait(utcnow()).date() - timedelta(days=40)
    at = _page("vic@shop.test", period="custom", **{"from": old.isoformat(), "to": old.isoformat()},
               family="knet")
    assert not at.exception and not at.error
    assert _metrics(at)["Gross captured"] == "5.000 KWD"
    assert not any("as far as today has run" in c.value for c in at.caption)  # a finished day
    assert at.query_params["from"] == old.isoformat() and at.query_params["family"] == "knet"
    link = f"(transactions?from={old.isoformat()}&to={old.isoformat()}&family=knet)"
    assert any(link in m.value for m in at.markdown)  # the same payments on the transactions page
    at.selectbox(key="an_family").set_value("wallet").run()
    assert any("No payments or refunds" in i.value for i in at.info)
    assert at.query_params["family"] == "wallet"


def test_a_role_without_analytics_gets_one_clear_sentence(env) -> None:
    make_staff(env, Role.SALES, "sara@shop.test")
    at = _page("sara@shop.test")
    assert not at.exception
    assert "may not view analytics" in at.error[0].value


def test_a_drop_shows_a_negative_delta_with_an_ascii_minus(env) -> None:
    make_staff(env, Role.VIEWER, "vic@shop.test")
    _seed(env)
    day = (to_kuwait(utcnow()).date() - timedelta(days=39)).isoformat()  # the day after the old payment
    at = _page("vic@shop.test", period="custom", **{"from": day, "to": day})
    assert not at.exception
    deltas = {m.label: m.delta for m in at.metric}
    assert deltas["Gross captured"] == "-5.000 KWD (-100.0%)"  # st.metric reads the sign to draw a red arrow
    assert any("No payments or refunds" in i.value for i in at.info)


def test_switching_preset_and_a_future_date_in_the_url(env) -> None:
    make_staff(env, Role.ADMIN, "ada@shop.test")
    _seed(env)
    today = to_kuwait(utcnow()).date().isoformat()
    too_long = _page("ada@shop.test", period="custom", **{"from": "2014-05-01", "to": today})
    assert not too_long.exception and "at most 732 days" in too_long.error[0].value
    start = (to_kuwait(utcnow()).date() - timedelta(days=10)).isoformat()
    at = _page("ada@shop.test", period="custom", **{"from": start, "to": "2999-01-01"})
    assert not at.exception and not at.error  # a future end is clamped to today instead of failing
    assert at.query_params["from"] == start and at.query_params["to"] == today
    at.selectbox(key="an_period").set_value("today").run()
    assert not at.exception
    assert [t.value for t in at.text_input] == [today]
    assert dict(at.query_params) == {"period": "today"}
    assert _metrics(at)["Gross captured"] == "19.750 KWD"
