"""The Transactions page in AppTest: renders per role, filters from the URL, pages, sorts, opens a payment."""

from __future__ import annotations

from datetime import timedelta

import pytest
from streamlit.testing.v1 import AppTest

from services.money import format_money
from services.permissions import Role
from services.timeutil import utcnow
from tests.apptest import PAGES, page_env, run_page, shown
from tests.factories import make_payment, make_staff

PAGE = PAGES / "transactions.py"


@pytest.fixture
def env(tmp_path, monkeypatch):
    with page_env(tmp_path, monkeypatch, gateway_url=None, db_name="t.db") as engine:
        for role in Role:
            make_staff(engine, role, f"{role.value}@shop.test", role.value.title())
        now = utcnow()
        for i in range(60):
            make_payment(engine, order_id=f"ORD-{i:03d}", amount_fils=1_000 * (i + 1),
                         status="failed" if i % 4 == 0 else "paid", method="knet" if i % 3 else "apple_pay",
                         customer_name="Noura Al-Sabah" if i == 7 else f"Customer {i}",
                         customer_phone=f"+9655000{i:04d}", created_at=now - timedelta(hours=i),
                         raw='{"result": "CAPTURED"}')
        yield engine


def _open(role: Role, **params: str) -> AppTest:
    return run_page(PAGE, f"{role.value}@shop.test", name=role.value.title(), **params)


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_finance_sees_results_totals_and_the_export_button(env) -> None:
    at = _open(Role.FINANCE)
    assert not at.exception
    assert at.title[0].value == "Transactions"
    assert _metric(at, "Payments") == "60"
    assert _metric(at, "Total (all statuses)") == "1,830.000 KWD"
    table = at.dataframe(key="tx_table").value
    assert len(table) == 50 and list(table.columns) == [
        "Created (Kuwait)", "Order id", "Customer", "Phone", "Amount", "Status", "Method", "Track id"]
    assert table.iloc[0]["Order id"] == "ORD-000" and table.iloc[0]["Amount"] == "1.000 KWD"
    export = [b for b in at.get("link_button") if b.proto.label == "Export CSV"]
    assert len(export) == 1 and export[0].proto.url.startswith("/export/transactions.csv?t=")


@pytest.mark.parametrize("role", [Role.VIEWER, Role.SALES])
def test_roles_that_cannot_export_see_no_export_button(env, role: Role) -> None:
    at = _open(role)
    assert not at.exception
    assert _metric(at, "Payments") == "60"
    assert [b for b in at.get("link_button") if b.proto.label == "Export CSV"] == []


def test_filters_come_from_the_url_and_show_in_the_form(env) -> None:
    at = _open(Role.VIEWER, status="failed", method="apple_pay")
    table = at.dataframe(key="tx_table").value
    assert _metric(at, "Payments") == "5"  # failed: i % 4 == 0; Apple Pay: i % 3 == 0; both: 0, 12, 24, 36, 48
    assert set(table["Status"]) == {"Failed"} and set(table["Method"]) == {"Apple Pay"}
    assert at.multiselect(key="f_status").value == ["failed"]
    assert _metric(at, "Captured (paid)") == "0.000 KWD"


def test_a_bad_url_value_is_dropped_with_a_warning(env) -> None:
    at = _open(Role.FINANCE, status="paid,bogus", min="12,5")
    assert not at.exception
    notes = shown(" ".join(w.value for w in at.warning))
    assert "'bogus'" in notes and "minimum amount" in notes
    assert _metric(at, "Payments") == "45"


def test_submitting_the_form_puts_the_filter_in_the_url(env) -> None:
    at = _open(Role.FINANCE)
    at.text_input(key="f_q").input("sabah")
    at.text_input(key="f_phone").input("+965 5000 0007")
    at.button(key="tx_apply").click().run()
    assert at.query_params["q"] == "sabah" and at.query_params["phone"] == "+96550000007"
    assert not at.exception
    table = at.dataframe(key="tx_table").value
    assert list(table["Order id"]) == ["ORD-007"] and table.iloc[0]["Customer"] == "Noura Al-Sabah"


def test_paging_and_sorting(env) -> None:
    at = _open(Role.FINANCE)
    at.button(key="tx_next").click().run()
    table = at.dataframe(key="tx_table").value
    assert len(table) == 10 and table.iloc[0]["Order id"] == "ORD-050"
    assert any("Page 2 of 2" in c.value for c in at.caption)
    at.selectbox(key="tx_sort").set_value("amount_desc").run()
    table = at.dataframe(key="tx_table").value
    assert table.iloc[0]["Amount"] == "60.000 KWD" and len(table) == 50  # a new sort starts at page 1


def test_selecting_a_row_opens_the_payment(env) -> None:
    at = _open(Role.VIEWER)
    at.session_state["tx_table"] = {"selection": {"rows": [2], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    assert shown(at.expander[0].label).startswith("Payment ORD-002")
    fields = at.dataframe[1].value  # read-only tables carry no key in AppTest
    assert dict(zip(fields["Field"], fields["Value"], strict=True))["order_id"] == "ORD-002"
    assert at.json[0].value  # the stored gateway payload


def test_empty_result_is_explained(env) -> None:
    at = _open(Role.FINANCE, order="NOPE")
    assert not at.exception
    assert "No payments match" in at.info[0].value
    assert len(at.dataframe) == 0


def test_broad_text_search_offers_to_add_up_every_match(env, monkeypatch) -> None:
    monkeypatch.setattr("services.search.plan.TEXT_TOTALS_CAP", 3)  # 59 "Customer …" matches are "too many"
    monkeypatch.setattr("services.search.plan.EXACT_BUDGET", 0)
    at = _open(Role.FINANCE, q="customer")
    assert not at.exception
    assert _metric(at, "Payments").startswith("59") and "Total (all statuses)" not in [m.label for m in at.metric]
    at.button(key="tx_add_up_button").click().run()
    assert not at.exception
    matches = [i for i in range(60) if i != 7]
    assert _metric(at, "Payments") == "59"
    assert _metric(at, "Total (all statuses)") == format_money(sum(1_000 * (i + 1) for i in matches))
    assert _metric(at, "Captured (paid)") == format_money(sum(1_000 * (i + 1) for i in matches if i % 4))
    at.run()  # the exact totals stay for this search
    assert _metric(at, "Total (all statuses)").endswith("KWD")
