"""Transactions: find any payment in seconds, see everything about it, export what you found.

The filter lives in the URL (``st.query_params``), so a view can be bookmarked and sent to a colleague.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from dashboard import reads, refund_dialog, state, tables
from dashboard.customer_link import customer_page_link
from dashboard.errors import explain_md, said_plain, show_error
from dashboard.formatting import (
    REFUND_STATE_LABELS,
    ago,
    kuwait_time,
    method_label,
    money,
    number,
    payment_status_label,
    short_day,
    status_label,
)
from dashboard.i18n import N_, _, current, ngettext
from dashboard.receipt import receipt_url
from dashboard.routes import EXPORT_PATH
from dashboard.safe import isolate, md, md_iso, plain
from services import links, refunds
from services.models import PaymentStatus
from services.permissions import Action, Actor
from services.search import (
    FAMILIES,
    HEADER_LANGUAGES,
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
    "newest": ("created_at", True, N_("Newest first")),
    "oldest": ("created_at", False, N_("Oldest first")),
    "amount_desc": ("amount", True, N_("Amount, highest first")),
    "amount_asc": ("amount", False, N_("Amount, lowest first")),
    "status": ("status", False, N_("Status")),
}
#: services.search.PRESETS in words (a preset added there shows its own English name until it is added here).
PRESET_LABELS = {"today": N_("Today"), "last_7_days": N_("Last 7 days"), "this_month": N_("This month")}
PERIODS = {"any": N_("Any time"), **{k: PRESET_LABELS.get(k, v) for k, v in PRESETS.items()},
           "custom": N_("Custom range")}
FAMILY_LABELS = {"knet": "KNET", "card": N_("Card"), "wallet": N_("Wallet")}
#: Refund reasons (services.refunds.REASONS) in words.
REASON_LABELS = {"customer_request": N_("Customer request"), "duplicate": N_("Duplicate payment"),
                 "item_unavailable": N_("Item unavailable"), "suspected_fraud": N_("Suspected fraud"),
                 "other": N_("Other")}
LANGUAGE_NAMES = {"en": N_("English"), "ar": N_("Arabic")}
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


def _said(message: str) -> str:
    """A service's sentence (a note about the URL's filter, a refusal) in the person's language, as Markdown."""
    return explain_md(ValueError(message))


def filter_form(flt: SearchFilter, today: date) -> None:
    # The period sits outside the form so that choosing "Custom range" shows the date box at once (a widget in a
    # form cannot change the form until it is submitted); the dates are applied with the form's "Search".
    when = st.columns([2, 3, 5])
    period = when[0].selectbox(_("Period"), list(PERIODS), index=list(PERIODS).index(period_of(flt, today)),
                               format_func=lambda p: _(PERIODS[p]), key="f_period")
    if period == "custom":
        when[1].date_input(_("Custom range (Kuwait days)"), value=(flt.day_from or today, flt.day_to or today),
                           max_value=today, key="f_dates", format="YYYY-MM-DD")
    with st.form("tx_filters", border=True):
        top = st.columns([3, 2, 3])
        top[0].multiselect(_("Status"), STATUSES, default=sorted(flt.statuses), format_func=status_label,
                           key="f_status", placeholder=_("Any"),
                           help=_("“Paid” includes paid payments refunded since; narrow them with “Refunds”."))
        top[1].multiselect(_("Refunds"), REFUND_STATES, default=sorted(flt.refunds), format_func=status_label,
                           key="f_refund", placeholder=_("Any"),
                           help=_("Paid payments refunded in part or in full (refunds UPayments accepted; requests "
                                  "still pending are shown beside the status)."))
        top[2].multiselect(_("Method"), METHODS, default=sorted(flt.methods), format_func=method_label,
                           key="f_method", placeholder=_("Any"))
        mid = st.columns([2, 1, 1, 2, 3])
        mid[0].multiselect(_("Family"), FAMILIES, default=sorted(flt.families), placeholder=_("Any"),
                           format_func=lambda f: _(FAMILY_LABELS[f]) if f in FAMILY_LABELS else plain(f),
                           key="f_family")
        query = filter_to_query(flt)
        mid[1].text_input(_("Min KWD"), value=query.get("min", ""), placeholder="0.000", key="f_min")
        mid[2].text_input(_("Max KWD"), value=query.get("max", ""), placeholder="100.000", key="f_max")
        mid[3].text_input(_("Phone"), value=flt.phone or "", placeholder=isolate(_("+965 5xxx xxxx")), key="f_phone")
        mid[4].text_input(_("Customer e-mail"), value=flt.email or "", key="f_email")
        ids = st.columns(5)
        ids[0].text_input(_("Order id"), value=flt.order_id or "", key="f_order")
        ids[1].text_input(_("Track id"), value=flt.track_id or "", key="f_track")
        ids[2].text_input(_("Payment id"), value=flt.payment_id or "", key="f_payment")
        ids[3].text_input(_("Reference"), value=flt.reference or "", key="f_ref")
        ids[4].text_input(_("Search text"), value=flt.text or "", placeholder=_("name, e-mail, description, id"),
                          key="f_q", help=_("Matches whole words and word beginnings in the customer's name, "
                                            "e-mail, the description and the ids."))
        st.checkbox(_("Not yet deposited"), value=flt.not_deposited, key="f_undeposited",
                    help=_("Paid payments whose money UPayments has not confirmed as deposited in your bank yet."))
        buttons = st.columns([1, 1, 6])
        buttons[0].form_submit_button(_("Search"), type="primary", on_click=apply_filters, key="tx_apply")
        buttons[1].form_submit_button(_("Clear"), on_click=clear_filters, key="tx_clear")


def results_table(result: SearchPage) -> int | None:
    """The page of results; returns the selected payment's id, if any."""
    frame = pd.DataFrame(
        {
            _("Created (Kuwait)"): [kuwait_time(r.created_at) for r in result.rows],
            _("Order id"): [r.order_id for r in result.rows],
            _("Customer"): [r.customer_name or "" for r in result.rows],
            _("Phone"): [r.customer_phone or "" for r in result.rows],
            _("Amount"): [money(r.amount_fils, r.currency) for r in result.rows],
            _("Status"): [payment_status_label(r.status, r.refund_state, r.refund_pending_fils, r.currency)
                          for r in result.rows],
            _("Method"): [method_label(r.method) for r in result.rows],
            _("Track id"): [r.track_id or "" for r in result.rows],
        }
    )
    event: Any = tables.dataframe(frame, key="tx_table", on_select="rerun", selection_mode="single-row",
                                  width="stretch",
                                  column_config={_("Track id"): st.column_config.TextColumn(width="small")})
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
    cols = st.columns(3)
    count = number(result.total_count) + ("" if result.count_exact else "+")
    cols[0].metric(_("Payments"), count, border=True)
    cols[1].caption(_("Too many text matches to add up at once: narrow the search (dates, status, amount), or add "
                      "them all up."))
    if cols[2].button(_("Add up all matches"), key="tx_add_up_button",
                      help=_("Visits every matching payment; on a large history this takes a few seconds.")):
        st.session_state["tx_add_up"] = query
        st.rerun()


def total_cards(count: int, captured_count: int, captured_fils: int, refunded_fils: int, net_fils: int,
                awaiting_count: int, awaiting_fils: int) -> None:
    """Money that adds up: captured − refunded = net; unpaid links are counted apart, never added to it."""
    # Two cards a row: seven-figure KWD amounts ("1,234,567.890 KWD") were cut off four to a row at 1400 px.
    cards = [*st.columns(2), *st.columns(2)]
    cards[0].metric(_("Payments"), number(count), border=True)
    cards[1].metric(_("Captured"), money(captured_fils), border=True,
                    help=ngettext("{n} paid payment in this view.", "{n} paid payments in this view.",
                                  captured_count).format(n=number(captured_count)))
    cards[2].metric(_("Refunded"), money(refunded_fils), border=True,
                    help=_("Refunds UPayments accepted or executed on these payments (pending requests not "
                           "included)."))
    cards[3].metric(_("Net"), money(net_fils), border=True, help=_("Captured minus refunded."))
    if awaiting_count:
        st.caption(ngettext("Not included above: {n} awaiting payment ({amount}).",
                            "Not included above: {n} awaiting payment ({amount}).", awaiting_count).format(
            n=number(awaiting_count), amount=md_iso(money(awaiting_fils))))


def pager(result: SearchPage) -> None:
    left, middle, right = st.columns([1, 3, 1])
    left.button(_("Previous"), icon=":material/chevron_left:", disabled=result.page <= 1, on_click=go_to,
                args=(result.page - 1,), key="tx_prev")
    middle.caption(_("Page {page} of {pages} · {size} per page").format(
        page=number(result.page), pages=number(result.pages), size=number(PAGE_SIZE)))
    right.button(_("Next"), icon=":material/chevron_right:", icon_position="right",
                 disabled=result.page >= result.pages, on_click=go_to, args=(result.page + 1,), key="tx_next")


SOURCE_LABELS = {"link": N_("Payment link"), "gateway": N_("Paid at UPayments (not one of our links)"),
                 "demo": N_("Demo data")}
LINK_LABELS = {"creating": N_("Being created"), "active": N_("Created at UPayments"),
               "uncertain": N_("Being checked with UPayments"), "rejected": N_("Refused by UPayments")}


def _when(value: Any) -> str:
    return _("{time} (Kuwait)").format(time=kuwait_time(value)) if value else ""


def plain_facts(p: Any) -> dict[str, str]:
    """The payment in words a shop uses, empty ones left out (the raw columns stay in the gateway expander)."""
    pending = p.status == PaymentStatus.PENDING
    facts = [
        (N_("Order number"), p.order_id),
        (N_("Customer"), p.customer_name or ""),
        (N_("Mobile"), p.customer_phone or ""),
        (N_("E-mail"), p.customer_email or ""),
        (N_("What for"), p.description or ""),
        (N_("Paid with"), method_label(p.method) if p.method else ""),
        (N_("Created"), _when(p.created_at)),
        (N_("Paid"), _when(p.paid_at)),
        (N_("Link valid until"), _when(p.expires_at) if p.source == "link" and pending else ""),
        (N_("How it came"), _(SOURCE_LABELS[p.source]) if p.source in SOURCE_LABELS else p.source),
        (N_("Sent by"), p.created_by or ""),
        (N_("Payment page language"),
         _(LANGUAGE_NAMES[p.language]) if p.source == "link" and p.language in LANGUAGE_NAMES else ""),
        (N_("Link"), _(LINK_LABELS[p.link_state]) if pending and p.link_state in LINK_LABELS else ""),
        (N_("UPayments track id"), p.track_id or ""),
        (N_("Bank payment id"), p.payment_id or ""),
        (N_("Reference"), p.reference or ""),
        (N_("UPayments order number (for refunds)"), p.upay_order_id or ""),
        (N_("Last checked with UPayments"), ago(p.verified_at) if p.verified_at else ""),
    ]
    return {_(label): value for label, value in facts if value}


def _event_label(kind: str) -> str:
    known = links.EVENT_LABELS.get(kind)
    return _(known) if known else kind.replace("_", " ").capitalize()


def show_detail(detail: PaymentDetail) -> None:
    p = detail.payment
    status = payment_status_label(p.status, p.refund_state, p.refund_pending_fils, p.currency)
    with st.container(border=True, key="tx_detail"):
        st.subheader(_("Payment {order} — {amount} · {status}").format(
            order=md_iso(p.order_id), amount=md_iso(money(p.amount_fils, p.currency)), status=md(status)))
        paid = p.status == PaymentStatus.PAID
        facts = st.columns(4)
        facts[0].metric(_("Captured"), money(detail.captured_fils, p.currency),
                        help=None if paid else _("Not paid: {status}.").format(status=md(status_label(p.status))))
        facts[1].metric(_("Refunded"), money(detail.refunded_fils, p.currency),
                        help=_("Refunds UPayments accepted or executed."))
        facts[2].metric(_("Net"), money(detail.net_fils, p.currency), help=_("Captured minus refunded."))
        facts[3].metric(_("Refunds pending"), money(p.refund_pending_fils, p.currency),
                        help=_("Awaiting approval, being sent or being checked: not refunded yet."))
        _actions(p)
        customer_page_link(actor, p.id, has_contact=bool(p.customer_phone or p.customer_email))
        facts_table = [{_("Detail"): label, _("Value"): value} for label, value in plain_facts(p).items()]
        tables.table(facts_table)  # readable text (a dataframe is a canvas)
        deposit = detail.deposit
        if paid and deposit is not None and deposit.deposited:
            when = md_iso(kuwait_time(deposit.deposited_at) if deposit.deposited_at else "—")
            st.markdown(_("**Deposit:** deposited in the shop's bank on {when} (Kuwait).").format(when=when))
            if deposit.invoice_url and deposit.invoice_url.startswith(("https://", "http://")):
                st.link_button(_("Deposit invoice"), deposit.invoice_url, icon=":material/receipt:")
        elif paid:
            expected = md_iso(short_day(expected_deposit_day(date.fromisoformat(p.local_day)), year=True))
            if deposit is not None:
                st.markdown(_("**Deposit:** not yet deposited (last asked {ago}); expected on {day}.").format(
                    ago=md(ago(deposit.checked_at)), day=expected))
            else:
                st.markdown(_("**Deposit:** not yet deposited; expected on {day}.").format(day=expected))
        st.markdown(_("**Refunds**"))
        rows_or_note([{_("Requested (Kuwait)"): kuwait_time(r.created_at),
                       _("Amount"): money(r.amount_fils, r.currency),
                       _("State"): _(REFUND_STATE_LABELS[r.state]) if r.state in REFUND_STATE_LABELS else r.state,
                       _("Reason"): _(REASON_LABELS[r.reason]) if r.reason in REASON_LABELS else r.reason,
                       _("By"): r.requested_by, _("Approved by"): r.approved_by or "",
                       _("Problem"): said_plain(r.error)}
                      for r in detail.refunds],
                     "tx_refunds", _("No refunds."))
        st.markdown(_("**What happened**"))
        rows_or_note([{_("At (Kuwait)"): kuwait_time(e.at, seconds=True), _("Event"): _event_label(e.kind),
                       _("By"): e.actor or ""} for e in detail.events],
                     "tx_events", _("No events recorded."))
        if actor.can(Action.VIEW_GATEWAY_PAYLOAD):
            with st.expander(_("Gateway data (for finance and admins)")):
                st.caption(_("The last message UPayments sent about this payment, and every notification "
                             "received."))
                if detail.gateway:
                    st.json(detail.gateway, expanded=False)
                else:
                    st.caption(_("No gateway payload stored yet."))
                rows_or_note([{_("Received (Kuwait)"): kuwait_time(w.received_at, seconds=True),
                               _("Source"): w.source, _("Result"): w.result or "", _("Duplicate"): w.duplicate,
                               _("Processed"): kuwait_time(w.processed_at) if w.processed_at else "",
                               _("Error"): said_plain(w.error)} for w in detail.webhooks],
                             "tx_webhooks", _("No webhook deliveries for this payment."))


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
            st.link_button(_("Open the receipt"), url, icon=":material/receipt_long:", key="tx_receipt_open")
            st.link_button(_("Send receipt on WhatsApp"), targets.whatsapp, icon=":material/chat:",
                           key="tx_receipt_wa", on_click=_record_receipt, args=(p.id,))
    if paid and actor.can(Action.REQUEST_REFUND):
        try:
            summary = refunds.refund_summary(state.engine(), payment_pk=p.id, actor=actor)
        except Exception as exc:
            show_error(exc)
            return
        with st.expander(_("Refund this payment"), icon=":material/undo:",
                         expanded="tx_refund_confirm" in st.session_state):
            if summary.can_refund:
                st.caption(_("Up to {amount} can be refunded now.").format(
                    amount=md_iso(money(summary.refundable_fils, summary.currency))))
                refund_dialog.refund_form(summary, prefix="tx_refund")
            else:
                st.info(_said(summary.reason_not or ""))
        if "tx_refund_confirm" in st.session_state:
            refund_dialog.confirm_dialog(state.engine(), actor, refunds.approval_threshold_fils(),
                                         prefix="tx_refund")


def rows_or_note(records: list[dict[str, Any]], key: str, empty: str) -> None:
    """A full-width table of ``records``, or the caption ``empty`` (our own translated words) when there are
    none."""
    if records:
        tables.dataframe(pd.DataFrame(records), width="stretch", key=key)
    else:
        st.caption(md(empty))


def _spend_ticket() -> None:
    st.session_state.pop("tx_export_ticket", None)  # used: the rerun after the click issues a fresh one


def export_controls(actor: Actor, flt: SearchFilter, places: list[Any]) -> None:
    """The header language of the file (a choice per export, the person's own language first) and a link to the
    app's export route with a single-use ticket for this filter and language: the file streams from there, so a
    million rows never sit in memory (services.search.export), and the click itself issues the next ticket."""
    if st.session_state.get("tx_export_lang") not in HEADER_LANGUAGES:
        st.session_state["tx_export_lang"] = current()  # the person's own language until they choose
    lang = places[0].radio(
        _("Column headers"), list(HEADER_LANGUAGES), key="tx_export_lang", horizontal=True,
        format_func=lambda v: "English" if v == "en" else "العربية",
        help=_("The language of the CSV file's first row; the rows themselves are the same.")) or current()
    query = (tuple(sorted(filter_to_query(flt).items())), lang)
    ticket = st.session_state.get("tx_export_ticket")
    if ticket is None or ticket[0] != query:
        ticket = (query, issue_ticket(actor, flt, header_language=lang))
        st.session_state["tx_export_ticket"] = ticket
    places[1].link_button(_("Export CSV"), f"{EXPORT_PATH}?{urlencode({'t': ticket[1]})}", key="tx_export",
                          on_click=_spend_ticket, icon=":material/download:",
                          help=_("All payments matching the filter (not only this page): Kuwait and UTC times, "
                                 "amounts in KWD. The export is recorded in the audit log once the file has been "
                                 "produced."))


actor = state.actor()
settings = state.settings()
st.title(_("Transactions"))
today = kuwait_today()
flt, sort, page, notes = url_state()
for note in notes + st.session_state.pop("tx_notes", []):
    st.warning(_said(note))  # warnings quote the URL's values: data, escaped
filter_form(flt, today)

try:
    column, descending, _label = SORTS[sort]
    result = reads.search_page(actor, flt, sort=column, descending=descending, page=page, page_size=PAGE_SIZE)
except Exception as exc:  # one clear sentence on the page; details go to the log
    show_error(exc)
    st.stop()

totals_line(result, flt)  # full width: seven-figure KWD totals must never be cut off
bar = st.columns([2, 2, 1, 1], vertical_alignment="bottom")
bar[0].selectbox(_("Sort"), list(SORTS), index=list(SORTS).index(sort), format_func=lambda k: _(SORTS[k][2]),
                 key="tx_sort", on_change=change_sort)
if actor.can(Action.EXPORT_TRANSACTIONS):
    export_controls(actor, flt, [bar[1], bar[2]])

if result.total_count == 0:
    if flt.is_empty():
        st.info(_("No payments yet. They appear here as soon as links are paid or the gateway is synced."))
    else:
        st.info(_("No payments match these filters. Widen the dates or press **Clear** to start again."))
    st.stop()

selected = results_table(result)
pager(result)
if selected is None:
    st.caption(_("Select a row to see everything about that payment."))
else:
    try:
        show_detail(payment_detail(state.engine(), actor, payment_pk=selected))
    except Exception as exc:
        show_error(exc)
