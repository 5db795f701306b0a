"""Transactions: find any payment in seconds, see everything about it, export what you found.

The filter lives in the URL (``st.query_params``), so a view can be bookmarked and sent to a colleague.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from dashboard import reads, refund_dialog, state
from dashboard.customer_link import customer_page_link
from dashboard.errors import show_error
from dashboard.formatting import (
    REFUND_STATE_LABELS,
    ago,
    kuwait_time,
    method_label,
    money,
    payment_status_label,
    status_label,
)
from dashboard.receipt import receipt_url
from dashboard.routes import EXPORT_PATH
from dashboard.safe import cells, md, md_cells, plain
from services import links, refunds
from services.models import PaymentStatus
from services.permissions import Action, Actor
from services.search import (
    FAMILIES,
    METHODS,
    PRESETS,
    REFUND_STATES,
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
_FORM_KEYS = ("f_period", "f_dates", "f_status", "f_refund", "f_family", "f_method", "f_min", "f_max", "f_phone",
              "f_email", "f_order", "f_track", "f_payment", "f_ref", "f_q", "f_undeposited")


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
    for key, param in (("f_status", "status"), ("f_refund", "refund"), ("f_family", "family"),
                       ("f_method", "method")):
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
    # The period sits outside the form so that choosing "Custom range" shows the date box at once (a widget in a
    # form cannot change the form until it is submitted); the dates are applied with the form's "Search".
    when = st.columns([2, 3, 5])
    period = when[0].selectbox("Period", list(PERIODS), index=list(PERIODS).index(period_of(flt, today)),
                               format_func=PERIODS.__getitem__, key="f_period")
    if period == "custom":
        when[1].date_input("Custom range (Kuwait days)", value=(flt.day_from or today, flt.day_to or today),
                           max_value=today, key="f_dates", format="YYYY-MM-DD")
    with st.form("tx_filters", border=True):
        top = st.columns([3, 2, 3])
        top[0].multiselect("Status", STATUSES, default=sorted(flt.statuses), format_func=status_label,
                           key="f_status", help="“Paid” includes paid payments refunded since; narrow them with "
                           "“Refunds”.")
        top[1].multiselect("Refunds", REFUND_STATES, default=sorted(flt.refunds), format_func=status_label,
                           key="f_refund", placeholder="Any", help="Paid payments refunded in part or in full "
                           "(refunds UPayments accepted; requests still pending are shown beside the status).")
        top[2].multiselect("Method", METHODS, default=sorted(flt.methods), format_func=method_label,
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
            "Status": [payment_status_label(r.status, r.refund_state, r.refund_pending_fils, r.currency)
                       for r in result.rows],
            "Method": [method_label(r.method) for r in result.rows],
            "Track id": [r.track_id or "" for r in result.rows],
        }
    )
    event: Any = st.dataframe(cells(frame), key="tx_table", on_select="rerun", selection_mode="single-row",
                              hide_index=True, width="stretch")
    picked = list(event.selection.rows) if event is not None else []
    return result.rows[picked[0]].id if picked and picked[0] < len(result.rows) else None


def totals_line(result: SearchPage, flt: SearchFilter) -> None:
    if result.totals_exact:
        total_cards(result.total_count, result.captured_count, result.captured_amount_fils, result.refunded_fils,
                    result.net_fils, result.awaiting_count, result.awaiting_fils)
        return
    query = reads.query_of(flt)
    if st.session_state.get("tx_add_up") == query:
        exact = reads.search_totals(actor, query)
        total_cards(exact.count, exact.captured_count, exact.captured_amount_fils, exact.refunded_fils,
                    exact.net_fils, exact.awaiting_count, exact.awaiting_fils)
        return
    cells = st.columns(3)
    count = f"{result.total_count:,}" + ("" if result.count_exact else "+")
    cells[0].metric("Payments", count, border=True)
    cells[1].caption("Too many text matches to add up at once: narrow the search (dates, status, amount), or "
                     "add them all up.")
    if cells[2].button("Add up all matches", key="tx_add_up_button",
                       help="Visits every matching payment; on a large history this takes a few seconds."):
        st.session_state["tx_add_up"] = query
        st.rerun()


def total_cards(count: int, captured_count: int, captured_fils: int, refunded_fils: int, net_fils: int,
                awaiting_count: int, awaiting_fils: int) -> None:
    """Money that adds up: captured − refunded = net; unpaid links are counted apart, never added to it."""
    # Two cards a row: seven-figure KWD amounts ("1,234,567.890 KWD") were cut off four to a row at 1400 px.
    cards = [*st.columns(2), *st.columns(2)]
    cards[0].metric("Payments", f"{count:,}", border=True)
    cards[1].metric("Captured", money(captured_fils), border=True,
                    help=f"{captured_count:,} paid payments in this view.")
    cards[2].metric("Refunded", money(refunded_fils), border=True,
                    help="Refunds UPayments accepted or executed on these payments (pending requests not included).")
    cards[3].metric("Net", money(net_fils), border=True, help="Captured minus refunded.")
    if awaiting_count:
        st.caption(f"Not included above: {awaiting_count:,} awaiting payment ({money(awaiting_fils)}).")


def pager(result: SearchPage) -> None:
    left, middle, right = st.columns([1, 3, 1])
    left.button("◀ Previous", disabled=result.page <= 1, on_click=go_to, args=(result.page - 1,), key="tx_prev")
    middle.caption(f"Page {result.page:,} of {result.pages:,} · {PAGE_SIZE} per page")
    right.button("Next ▶", disabled=result.page >= result.pages, on_click=go_to, args=(result.page + 1,),
                 key="tx_next")


SOURCE_LABELS = {"link": "Payment link", "gateway": "Paid at UPayments (not one of our links)", "demo": "Demo data"}
LINK_LABELS = {"creating": "Being created", "active": "Created at UPayments", "uncertain": "Being checked with "
               "UPayments", "rejected": "Refused by UPayments"}


def _when(value: Any) -> str:
    return f"{kuwait_time(value)} (Kuwait)" if value else ""


def plain_facts(p: Any) -> dict[str, str]:
    """The payment in words a shop uses, empty ones left out (the raw columns stay in the gateway expander)."""
    facts = {
        "Order number": p.order_id,
        "Customer": p.customer_name or "",
        "Mobile": p.customer_phone or "",
        "E-mail": p.customer_email or "",
        "What for": p.description or "",
        "Paid with": method_label(p.method) if p.method else "",
        "Created": _when(p.created_at),
        "Paid": _when(p.paid_at),
        "Link valid until": _when(p.expires_at) if p.source == "link" and p.status == PaymentStatus.PENDING else "",
        "How it came": SOURCE_LABELS.get(p.source, p.source),
        "Sent by": p.created_by or "",
        "Payment page language": {"en": "English", "ar": "Arabic"}.get(p.language, "") if p.source == "link" else "",
        "Link": LINK_LABELS.get(p.link_state or "", "") if p.status == PaymentStatus.PENDING else "",
        "UPayments track id": p.track_id or "",
        "Bank payment id": p.payment_id or "",
        "Reference": p.reference or "",
        "UPayments order number (for refunds)": p.upay_order_id or "",
        "Last checked with UPayments": ago(p.verified_at) if p.verified_at else "",
    }
    return {label: value for label, value in facts.items() if value}


def show_detail(detail: PaymentDetail) -> None:
    p = detail.payment
    status = payment_status_label(p.status, p.refund_state, p.refund_pending_fils, p.currency)
    with st.container(border=True, key="tx_detail"):
        st.subheader(f"Payment {md(p.order_id)} — {money(p.amount_fils, p.currency)} · {md(status)}")
        paid = p.status == PaymentStatus.PAID
        facts = st.columns(4)
        facts[0].metric("Captured", money(detail.captured_fils, p.currency),
                        help=None if paid else f"Not paid: {md(status_label(p.status))}.")
        facts[1].metric("Refunded", money(detail.refunded_fils, p.currency),
                        help="Refunds UPayments accepted or executed.")
        facts[2].metric("Net", money(detail.net_fils, p.currency), help="Captured minus refunded.")
        facts[3].metric("Refunds pending", money(p.refund_pending_fils, p.currency),
                        help="Awaiting approval, being sent or being checked: not refunded yet.")
        _actions(p)
        customer_page_link(actor, p.id, has_contact=bool(p.customer_phone or p.customer_email))
        facts_table = [{"Detail": label, "Value": value} for label, value in plain_facts(p).items()]
        st.table(md_cells(facts_table), hide_index=True)  # readable text (a dataframe is a canvas)
        deposit = detail.deposit
        if paid and deposit is not None and deposit.deposited:
            when = kuwait_time(deposit.deposited_at) if deposit.deposited_at else "—"
            st.markdown(f"**Deposit:** deposited in the shop's bank on {when} (Kuwait).")
            if deposit.invoice_url and deposit.invoice_url.startswith(("https://", "http://")):
                st.link_button("Deposit invoice", deposit.invoice_url, icon=":material/receipt:")
        elif paid:
            asked = f" (last asked {ago(deposit.checked_at)})" if deposit is not None else ""
            st.markdown(f"**Deposit:** not yet deposited{asked}; expected on "
                        f"{md(expected_deposit_day(date.fromisoformat(p.local_day)).isoformat())}.")
        st.markdown("**Refunds**")
        rows_or_note([{"Requested (Kuwait)": kuwait_time(r.created_at), "Amount": money(r.amount_fils, r.currency),
                       "State": REFUND_STATE_LABELS.get(r.state, r.state),
                       "Reason": refunds.REASONS.get(r.reason, r.reason), "By": r.requested_by,
                       "Approved by": r.approved_by or "", "Problem": r.error or ""} for r in detail.refunds],
                     "tx_refunds", "No refunds.")
        st.markdown("**What happened**")
        rows_or_note([{"At (Kuwait)": kuwait_time(e.at, seconds=True),
                       "Event": links.EVENT_LABELS.get(e.kind, e.kind.replace("_", " ").capitalize()),
                       "By": e.actor or ""} for e in detail.events],
                     "tx_events", "No events recorded.")
        if actor.can(Action.VIEW_GATEWAY_PAYLOAD):
            with st.expander("Gateway data (for finance and admins)"):
                st.caption("The last message UPayments sent about this payment, and every notification received.")
                if detail.gateway:
                    st.json(detail.gateway, expanded=False)
                else:
                    st.caption("No gateway payload stored yet.")
                rows_or_note([{"Received (Kuwait)": kuwait_time(w.received_at, seconds=True), "Source": w.source,
                               "Result": w.result or "", "Duplicate": w.duplicate,
                               "Processed": kuwait_time(w.processed_at) if w.processed_at else "",
                               "Error": w.error or ""} for w in detail.webhooks],
                             "tx_webhooks", "No webhook deliveries for this payment.")


def _record_receipt(payment_pk: int) -> None:
    try:
        links.record_share(state.engine(), state.actor_at_click(Action.SHARE_LINK), payment_pk=payment_pk,
                           channel="whatsapp", receipt=True)
    except Exception as exc:
        st.session_state["tx_refund_error"] = exc


def _actions(p: Any) -> None:
    """Refund (finance, admin) and the receipt (paid links) straight from the payment."""
    paid = p.status == PaymentStatus.PAID
    refund_dialog.show_last("tx_refund", refunds.approval_threshold_fils())
    if paid and p.source == "link" and actor.can(Action.SHARE_LINK):
        url = receipt_url(settings.public_url, p.order_id)
        targets = links.receipt_links(p, receipt_url=url, shop_name=settings.shop_name,
                                      shop_name_ar=settings.shop_name_ar, phone_e164=p.customer_phone)
        with st.container(horizontal=True):  # buttons as wide as their words
            st.link_button("Open the receipt", url, icon=":material/receipt_long:", key="tx_receipt_open")
            st.link_button("Send receipt on WhatsApp", targets.whatsapp, icon=":material/chat:",
                           key="tx_receipt_wa", on_click=_record_receipt, args=(p.id,))
    if paid and actor.can(Action.REQUEST_REFUND):
        try:
            summary = refunds.refund_summary(state.engine(), payment_pk=p.id, actor=actor)
        except Exception as exc:
            show_error(exc)
            return
        with st.expander("Refund this payment", icon=":material/undo:",
                         expanded="tx_refund_confirm" in st.session_state):
            if summary.can_refund:
                st.caption(f"Up to {money(summary.refundable_fils, summary.currency)} can be refunded now.")
                refund_dialog.refund_form(summary, prefix="tx_refund")
            else:
                st.info(md(summary.reason_not))
        if "tx_refund_confirm" in st.session_state:
            refund_dialog.confirm_dialog(state.engine(), actor, refunds.approval_threshold_fils(),
                                         prefix="tx_refund")


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
