"""Transactions: find any payment in seconds, see everything about it, export what you found.

The filter lives in the URL (``st.query_params``), so a view can be bookmarked and sent to a colleague.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from dashboard import reads, state
from dashboard.customer_link import customer_page_link
from dashboard.errors import show_error
from dashboard.formatting import ago, kuwait_time, method_label, money, status_label
from dashboard.routes import EXPORT_PATH
from dashboard.safe import cells, md, plain
from services.models import PaymentStatus
from services.permissions import Action, Actor
from services.search import (
    FAMILIES,
    METHODS,
    PRESETS,
    STATUSES,
    PaymentDetail,
    SearchFilter,
    SearchPage,
    filter_from_query,
    filter_to_query,
    issue_ticket,
    kuwait_today,
    payment_detail,
    preset_range,
)
from services.settlements import expected_deposit_day

PAGE_SIZE = 50
SORTS = {
    "newest": ("created_at", True, "Newest first"),
    "oldest": ("created_at", False, "Oldest first"),
    "amount_desc": ("amount", True, "Amount, highest first"),
    "amount_asc": ("amount", False, "Amount, lowest first"),
    "status": ("status", False, "Status"),
}
PERIODS = {"any": "Any time", **PRESETS, "custom": "Custom range"}
FAMILY_LABELS = {"knet": "KNET", "card": "Card", "wallet": "Wallet"}
_FORM_KEYS = ("f_period", "f_dates", "f_status", "f_family", "f_method", "f_min", "f_max", "f_phone", "f_email",
              "f_order", "f_track", "f_payment", "f_ref", "f_q", "f_undeposited")


def url_state() -> tuple[SearchFilter, str, int, list[str]]:
    """Filter, sort and page from the URL; unusable parts are dropped with a warning."""
    params = st.query_params.to_dict()
    warnings: list[str] = []
    flt = filter_from_query(params, warnings)
    sort = params.get("sort", "newest")
    sort = sort if sort in SORTS else "newest"
    try:
        page = max(1, int(params.get("page", "1")))
    except ValueError:
        page = 1
    return flt, sort, page, warnings


def period_of(flt: SearchFilter, today: date) -> str:
    if not flt.day_from and not flt.day_to:
        return "any"
    for name in PRESETS:
        if (flt.day_from, flt.day_to) == preset_range(name, today):
            return name
    return "custom"


def apply_filters() -> None:
    """Form submit: widgets → URL (page 1); the URL is the single source of the filter."""
    s = st.session_state
    params: dict[str, str] = {}
    period = s.get("f_period", "any")
    if period in PRESETS:
        start, end = preset_range(period, kuwait_today())
        params.update({"from": start.isoformat(), "to": end.isoformat()})
    elif period == "custom":
        picked: tuple[date, ...] = tuple(s.get("f_dates") or ())
        if picked:
            params["from"] = picked[0].isoformat()
            params["to"] = picked[-1].isoformat()
    for key, param in (("f_status", "status"), ("f_family", "family"), ("f_method", "method")):
        if s.get(key):
            params[param] = ",".join(s[key])
    for key, param in (("f_min", "min"), ("f_max", "max"), ("f_phone", "phone"), ("f_email", "email"),
                       ("f_order", "order"), ("f_track", "track"), ("f_payment", "payment"), ("f_ref", "ref"),
                       ("f_q", "q")):
        if (s.get(key) or "").strip():
            params[param] = s[key].strip()
    if s.get("f_undeposited"):
        params["undeposited"] = "1"
    warnings: list[str] = []
    flt = filter_from_query(params, warnings)
    s["tx_notes"] = warnings
    sort = st.query_params.get("sort")
    st.query_params.from_dict({**filter_to_query(flt), **({"sort": sort} if sort else {})})


def clear_filters() -> None:
    for key in _FORM_KEYS:
        st.session_state.pop(key, None)
    st.query_params.clear()


def go_to(page: int) -> None:
    st.query_params["page"] = str(page)


def change_sort() -> None:
    st.query_params["sort"] = st.session_state["tx_sort"]
    st.query_params.pop("page", None)


def filter_form(flt: SearchFilter, today: date) -> None:
    with st.form("tx_filters", border=True):
        top = st.columns([2, 2, 3, 3])
        top[0].selectbox("Period", list(PERIODS), index=list(PERIODS).index(period_of(flt, today)),
                         format_func=PERIODS.__getitem__, key="f_period")
        top[1].date_input("Custom range (Kuwait days)", value=(flt.day_from or today, flt.day_to or today),
                          max_value=today, key="f_dates", help="Used when the period is “Custom range”.")
        top[2].multiselect("Status", STATUSES, default=sorted(flt.statuses), format_func=status_label,
                           key="f_status")
        top[3].multiselect("Method", METHODS, default=sorted(flt.methods), format_func=method_label,
                           key="f_method")
        mid = st.columns([2, 1, 1, 2, 3])
        mid[0].multiselect("Family", FAMILIES, default=sorted(flt.families),
                           format_func=lambda f: FAMILY_LABELS.get(f, plain(f)), key="f_family")
        query = filter_to_query(flt)
        mid[1].text_input("Min KWD", value=query.get("min", ""), placeholder="0.000", key="f_min")
        mid[2].text_input("Max KWD", value=query.get("max", ""), placeholder="100.000", key="f_max")
        mid[3].text_input("Phone", value=flt.phone or "", placeholder="+965 5xxx xxxx", key="f_phone")
        mid[4].text_input("Customer e-mail", value=flt.email or "", key="f_email")
        ids = st.columns(5)
        ids[0].text_input("Order id", value=flt.order_id or "", key="f_order")
        ids[1].text_input("Track id", value=flt.track_id or "", key="f_track")
        ids[2].text_input("Payment id", value=flt.payment_id or "", key="f_payment")
        ids[3].text_input("Reference", value=flt.reference or "", key="f_ref")
        ids[4].text_input("Search text", value=flt.text or "", placeholder="name, e-mail, description, id",
                          key="f_q", help="Matches whole words and word beginnings in the customer's name, "
                          "e-mail, the description and the ids.")
        st.checkbox("Not yet deposited", value=flt.not_deposited, key="f_undeposited",
                    help="Paid payments whose money UPayments has not confirmed as deposited in your bank yet.")
        buttons = st.columns([1, 1, 6])
        buttons[0].form_submit_button("Search", type="primary", on_click=apply_filters, key="tx_apply")
        buttons[1].form_submit_button("Clear", on_click=clear_filters, key="tx_clear")


def results_table(result: SearchPage) -> int | None:
    """The page of results; returns the selected payment's id, if any."""
    frame = pd.DataFrame(
        {
            "Created (Kuwait)": [kuwait_time(r.created_at) for r in result.rows],
            "Order id": [r.order_id for r in result.rows],
            "Customer": [r.customer_name or "" for r in result.rows],
            "Phone": [r.customer_phone or "" for r in result.rows],
            "Amount": [money(r.amount_fils, r.currency) for r in result.rows],
            "Status": [status_label(r.status) for r in result.rows],
            "Method": [method_label(r.method) for r in result.rows],
            "Track id": [r.track_id or "" for r in result.rows],
        }
    )
    event: Any = st.dataframe(cells(frame), key="tx_table", on_select="rerun", selection_mode="single-row",
                              hide_index=True, width="stretch")
    picked = list(event.selection.rows) if event is not None else []
    return result.rows[picked[0]].id if picked and picked[0] < len(result.rows) else None


def totals_line(result: SearchPage, flt: SearchFilter) -> None:
    cells = st.columns(3)
    if result.totals_exact:
        total_cards(cells, result.total_count, result.total_amount_fils, result.captured_count,
                    result.captured_amount_fils)
        return
    query = reads.query_of(flt)
    if st.session_state.get("tx_add_up") == query:
        exact = reads.search_totals(actor, query)
        total_cards(cells, exact.count, exact.amount_fils, exact.captured_count, exact.captured_amount_fils)
        return
    count = f"{result.total_count:,}" + ("" if result.count_exact else "+")
    cells[0].metric("Payments", count, border=True)
    cells[1].caption("Too many text matches to add up at once: narrow the search (dates, status, amount), or "
                     "add them all up.")
    if cells[2].button("Add up all matches", key="tx_add_up_button",
                       help="Visits every matching payment; on a large history this takes a few seconds."):
        st.session_state["tx_add_up"] = query
        st.rerun()


def total_cards(cells: Any, count: int, amount_fils: int, captured_count: int, captured_fils: int) -> None:
    cells[0].metric("Payments", f"{count:,}", border=True)
    cells[1].metric("Total (all statuses)", money(amount_fils), border=True)
    cells[2].metric("Captured (paid)", money(captured_fils), border=True,
                    help=f"{captured_count:,} paid payments in this view.")


def pager(result: SearchPage) -> None:
    left, middle, right = st.columns([1, 3, 1])
    left.button("◀ Previous", disabled=result.page <= 1, on_click=go_to, args=(result.page - 1,), key="tx_prev")
    middle.caption(f"Page {result.page:,} of {result.pages:,} · {PAGE_SIZE} per page")
    right.button("Next ▶", disabled=result.page >= result.pages, on_click=go_to, args=(result.page + 1,),
                 key="tx_next")


def show_detail(detail: PaymentDetail) -> None:
    p = detail.payment
    with st.expander(f"Payment {md(p.order_id)} — {money(p.amount_fils, p.currency)}, {md(status_label(p.status))}",
                     expanded=True):
        facts = st.columns(4)
        facts[0].metric("Amount", money(p.amount_fils, p.currency))
        facts[1].metric("Refunded", money(p.refunded_fils, p.currency))
        facts[2].metric("Status", md(status_label(p.status)), help=f"Gateway result: {md(p.result or '—')}")
        facts[3].metric("Method", md(method_label(p.method)))
        customer_page_link(actor, p.id, has_contact=bool(p.customer_phone or p.customer_email))
        fields = {key: value for key, value in p.model_dump().items() if key != "raw"}
        for key in ("created_at", "paid_at", "expires_at", "updated_at", "verified_at"):
            fields[key] = kuwait_time(fields.get(key), seconds=True) + " (Kuwait)" if fields.get(key) else "—"
        fields["amount_fils"] = money(p.amount_fils, p.currency)
        fields["refunded_fils"] = money(p.refunded_fils, p.currency)
        st.dataframe(cells(pd.DataFrame({"Field": list(fields), "Value": [str(v) if v is not None else "—"
                                                                           for v in fields.values()]})),
                     hide_index=True, width="stretch", key="tx_fields")
        deposit = detail.deposit
        if p.status == PaymentStatus.PAID and deposit is not None and deposit.deposited:
            when = kuwait_time(deposit.deposited_at) if deposit.deposited_at else "—"
            st.markdown(f"**Deposit:** deposited in the shop's bank on {when} (Kuwait).")
            if deposit.invoice_url and deposit.invoice_url.startswith(("https://", "http://")):
                st.link_button("Deposit invoice", deposit.invoice_url, icon=":material/receipt:")
        elif p.status == PaymentStatus.PAID:
            asked = f" (last asked {ago(deposit.checked_at)})" if deposit is not None else ""
            st.markdown(f"**Deposit:** not yet deposited{asked}; expected on "
                        f"{md(expected_deposit_day(date.fromisoformat(p.local_day)).isoformat())}.")
        st.markdown("**Gateway payload** (last one received)")
        if detail.gateway:
            st.json(detail.gateway, expanded=False)
        else:
            st.caption("No gateway payload stored yet.")
        st.markdown("**Refunds**")
        rows_or_note([{"Requested (Kuwait)": kuwait_time(r.created_at), "Amount": money(r.amount_fils, r.currency),
                       "State": r.state, "Reason": r.reason, "By": r.requested_by,
                       "Approved by": r.approved_by or "", "Error": r.error or ""} for r in detail.refunds],
                     "tx_refunds", "No refunds.")
        st.markdown("**Timeline**")
        rows_or_note([{"At (Kuwait)": kuwait_time(e.at, seconds=True), "Event": e.kind, "By": e.actor or "",
                       "Detail": e.detail or ""} for e in detail.events],
                     "tx_events", "No events recorded.")
        st.markdown("**Webhook deliveries**")
        rows_or_note([{"Received (Kuwait)": kuwait_time(w.received_at, seconds=True), "Source": w.source,
                       "Result": w.result or "", "Duplicate": w.duplicate,
                       "Processed": kuwait_time(w.processed_at) if w.processed_at else "",
                       "Error": w.error or ""} for w in detail.webhooks],
                     "tx_webhooks", "No webhook deliveries for this payment.")


def rows_or_note(records: list[dict[str, Any]], key: str, empty: str) -> None:
    """A full-width table of ``records``, or the caption ``empty`` when there are none."""
    if records:
        st.dataframe(cells(pd.DataFrame(records)), hide_index=True, width="stretch", key=key)
    else:
        st.caption(md(empty))


def _spend_ticket() -> None:
    st.session_state.pop("tx_export_ticket", None)  # used: the rerun after the click issues a fresh one


def export_button(actor: Actor, flt: SearchFilter) -> None:
    """A link to the app's export route with a single-use ticket for this filter: the file streams from there,
    so a million rows never sit in memory (services.search.export), and the click itself issues the next ticket."""
    query = tuple(sorted(filter_to_query(flt).items()))
    ticket = st.session_state.get("tx_export_ticket")
    if ticket is None or ticket[0] != query:
        ticket = (query, issue_ticket(actor, flt))
        st.session_state["tx_export_ticket"] = ticket
    st.link_button("Export CSV", f"{EXPORT_PATH}?{urlencode({'t': ticket[1]})}", key="tx_export",
                   on_click=_spend_ticket, icon=":material/download:",
                   help="All payments matching the filter (not only this page): Kuwait and UTC times, amounts in "
                   "KWD. The export is recorded in the audit log once the file has been produced.")


actor = state.actor()
settings = state.settings()
st.title("Transactions")
today = kuwait_today()
flt, sort, page, notes = url_state()
for note in notes + st.session_state.pop("tx_notes", []):
    st.warning(md(note))  # warnings quote the URL's values: data
filter_form(flt, today)

try:
    column, descending, _ = SORTS[sort]
    result = reads.search_page(actor, flt, sort=column, descending=descending, page=page, page_size=PAGE_SIZE)
except Exception as exc:  # one clear sentence on the page; details go to the log
    show_error(exc)
    st.stop()

totals_line(result, flt)  # full width: seven-figure KWD totals must never be cut off
bar = st.columns([2, 1, 3], vertical_alignment="bottom")
bar[0].selectbox("Sort", list(SORTS), index=list(SORTS).index(sort), format_func=lambda k: SORTS[k][2],
                 key="tx_sort", on_change=change_sort)
if actor.can(Action.EXPORT_TRANSACTIONS):
    with bar[1]:
        export_button(actor, flt)

if result.total_count == 0:
    if flt.is_empty():
        st.info("No payments yet. They appear here as soon as links are paid or the gateway is synced.")
    else:
        st.info("No payments match these filters. Widen the dates or press **Clear** to start again.")
    st.stop()

selected = results_table(result)
pager(result)
if selected is None:
    st.caption("Select a row to see everything about that payment.")
else:
    try:
        show_detail(payment_detail(state.engine(), actor, payment_pk=selected))
    except Exception as exc:
        show_error(exc)
