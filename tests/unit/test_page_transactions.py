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
#: As the refund ledger leaves them (services.refund_state): ORD-001 partly refunded with more pending, ORD-002 in full.
REFUNDS: dict[int, dict[str, object]] = {
    1: {"refunded_fils": 500, "refund_state": "partially_refunded", "refund_pending_fils": 1_000},
    2: {"refunded_fils": 3_000, "refund_state": "refunded"},
}


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
                         raw='{"result": "CAPTURED"}', upay_order_id=f"UP-{i}", **REFUNDS.get(i, {}))
        yield engine


def _open(role: Role, **params: str) -> AppTest:
    return run_page(PAGE, f"{role.value}@shop.test", name=role.value.title(), **params)


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _detail_metric(at: AppTest, label: str) -> str:
    """The payment detail's card (it comes after the list's totals, which use the same words)."""
    return [m.value for m in at.metric if m.label == label][-1]


def test_finance_sees_results_totals_and_the_export_button(env) -> None:
    at = _open(Role.FINANCE)
    assert not at.exception
    assert at.title[0].value == "Transactions"
    assert _metric(at, "Payments") == "60"
    # Money that adds up: 45 paid of 1,830.000 (the 15 failed, 435.000, are not money); refunded 3.500.
    assert (_metric(at, "Captured"), _metric(at, "Refunded"), _metric(at, "Net")) == (
        "1,395.000 KWD", "3.500 KWD", "1,391.500 KWD")
    assert "Total (all statuses)" not in [m.label for m in at.metric]
    table = at.dataframe(key="tx_table").value
    assert len(table) == 50 and list(table.columns) == [
        "Created (Kuwait)", "Order id", "Customer", "Phone", "Amount", "Status", "Method", "Track id"]
    assert table.iloc[0]["Order id"] == "ORD-000" and table.iloc[0]["Amount"] == "1.000 KWD"
    assert list(table["Status"][:3]) == ["Failed", "Partially refunded · 1.000 KWD refund pending", "Refunded"]
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
    assert _metric(at, "Captured") == "0.000 KWD"


def test_the_refund_filter_lives_in_the_url_and_shows_refund_states(env) -> None:
    at = _open(Role.VIEWER, refund="refunded,partially_refunded")
    assert not at.exception
    table = at.dataframe(key="tx_table").value
    assert list(table["Order id"]) == ["ORD-001", "ORD-002"]
    assert at.multiselect(key="f_refund").value == ["partially_refunded", "refunded"]
    assert (_metric(at, "Captured"), _metric(at, "Refunded"), _metric(at, "Net")) == (
        "5.000 KWD", "3.500 KWD", "1.500 KWD")
    at.multiselect(key="f_refund").set_value(["refunded"])
    at.button(key="tx_apply").click().run()
    assert at.query_params["refund"] == "refunded"
    assert list(at.dataframe(key="tx_table").value["Order id"]) == ["ORD-002"]


def test_the_custom_date_box_shows_only_for_a_custom_range(env) -> None:
    at = _open(Role.FINANCE)
    assert len(at.date_input) == 0
    at.selectbox(key="f_period").set_value("custom").run()
    assert [d.label for d in at.date_input] == ["Custom range (Kuwait days)"]


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


def _pick(at: AppTest, row: int) -> AppTest:
    at.session_state["tx_table"] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    return at


def test_selecting_a_row_opens_the_payment_in_plain_words(env) -> None:
    at = _pick(_open(Role.VIEWER), 1)
    assert shown(at.subheader[0].value) == (
        "Payment ORD-001 — 2.000 KWD · Partially refunded · 1.000 KWD refund pending")
    assert tuple(_detail_metric(at, label) for label in ("Captured", "Refunded", "Net", "Refunds pending")) == (
        "2.000 KWD", "0.500 KWD", "1.500 KWD", "1.000 KWD")
    fields = at.table[0].value
    facts = {shown(k): shown(v) for k, v in zip(fields["Detail"], fields["Value"], strict=True)}
    assert facts["Order number"] == "ORD-001" and facts["UPayments order number (for refunds)"] == "UP-1"
    text = " ".join([*facts, *facts.values()])
    assert not {"upay_order_id", "link_state", "method_family", "refunded_fils"} & set(text.split())
    assert len(at.json) == 0 and not [e for e in at.expander if "Gateway" in e.label]  # raw JSON: not for viewers
    assert [e for e in at.expander if "Refund" in e.label] == []  # viewers cannot refund


def test_finance_sees_the_gateway_json_behind_an_expander_and_can_refund(env) -> None:
    at = _pick(_open(Role.FINANCE), 3)
    assert [e.label for e in at.expander if "Gateway" in e.label] == ["Gateway data (for finance and admins)"]
    assert at.json[0].value  # the stored gateway payload
    assert [e.label for e in at.expander if "Refund" in e.label] == ["Refund this payment"]
    at.radio(key="tx_refund_kind").set_value("Partial amount").run()
    at.text_input(key="tx_refund_amount").input("1.5")
    at.button(key="FormSubmitter:tx_refund_form-Review refund").click().run()
    assert not at.exception
    pending = at.session_state["tx_refund_confirm"]
    assert (pending["amount_fils"], pending["order_id"]) == (1_500, "ORD-003")
    assert pending["key"] == at.session_state[f"tx_refund_key_{pending['payment_pk']}"]  # one key per intent


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
    assert _metric(at, "Payments").startswith("59") and "Captured" not in [m.label for m in at.metric]
    at.button(key="tx_add_up_button").click().run()
    assert not at.exception
    matches = [i for i in range(60) if i != 7]
    assert _metric(at, "Payments") == "59"
    assert _metric(at, "Captured") == format_money(sum(1_000 * (i + 1) for i in matches if i % 4))
    assert _metric(at, "Refunded") == "3.500 KWD"
    at.run()  # the exact totals stay for this search
    assert _metric(at, "Net").endswith("KWD")


def _export_ticket(at: AppTest) -> str:
    from urllib.parse import parse_qs, urlsplit

    link = next(b for b in at.get("link_button") if b.proto.label == "Export CSV")
    return parse_qs(urlsplit(link.proto.url).query)["t"][0]


def test_the_csv_header_language_is_chosen_per_export_and_starts_as_the_persons_own(env) -> None:
    from services.search import redeem_ticket

    at = _open(Role.FINANCE)
    assert at.session_state["tx_export_lang"] == "en"  # this person reads the dashboard in English
    assert redeem_ticket(env, _export_ticket(at)).header_language == "en"
    at.session_state["tx_export_lang"] = "ar"
    at.run()
    assert not at.exception
    assert redeem_ticket(env, _export_ticket(at)).header_language == "ar"  # a new ticket for the new choice
