"""Refunds: find a payment, refund all or part of it once (confirmed in a dialog), approve, cancel, track, export."""

from __future__ import annotations

from datetime import date
from typing import Any

import streamlit as st

from dashboard import reads, refund_dialog, state, tables
from dashboard.errors import said_md, said_plain, show_error
from dashboard.formatting import (
    REFUND_STATE_LABELS,
    kuwait_time,
    method_label,
    money,
    number,
    payment_status_label,
    short_day,
    status_label,
)
from dashboard.i18n import _, ngettext
from dashboard.paging import page_count, pager
from dashboard.refund_dialog import reason_label
from dashboard.safe import md, md_iso, plain, plain_iso
from services import refunds
from services.models import RefundState
from services.money import parse_amount
from services.permissions import Action, Actor

PAGE_SIZE = 25
#: Approval cards shown at once (each has a note field and two buttons).
APPROVALS_PAGE_SIZE = 5
STATE_LABELS = REFUND_STATE_LABELS

actor = state.actor()
engine = state.engine()
settings = state.settings()
threshold = refunds.approval_threshold_fils()  # the service's rule, shown here; the service applies it itself


def _list(actor: Actor, flt: refunds.RefundFilter, page: int,
          page_size: int = PAGE_SIZE) -> tuple[list[refunds.RefundRow], int]:
    """A page of refunds (cached in dashboard.reads per database, user, role, filter and page)."""
    return reads.refund_page(actor, flt, page=page, page_size=page_size)


def _changed() -> None:
    reads.forget_refunds()


def state_label(state_code: str) -> str:
    known = STATE_LABELS.get(state_code)
    return _(known) if known else state_code


def _table(rows: list[refunds.RefundRow], *, with_payment: bool = True) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        row: dict[str, Any] = {_("Refund"): r.id, _("Requested"): kuwait_time(r.created_at)}
        if with_payment:
            row |= {_("Order"): r.order_id, _("Customer"): r.customer_name, _("Method"): method_label(r.method)}
        row |= {
            _("Amount"): money(r.amount_fils, r.currency), _("Reason"): reason_label(r.reason),
            _("State"): state_label(r.state), _("Requested by"): r.requested_by,
            _("Approved by"): r.approved_by or "",
            _("Expected arrival"): short_day(r.expected_arrival, year=True) if r.expected_arrival else "",
            _("Note / problem"): said_plain(r.error) or r.note or "",
        }
        out.append(row)
    return out


def _act(fn: Any, **kwargs: Any) -> None:
    """Run one refund action; remember its outcome for the next run and rerun (dashboard.refund_dialog)."""
    refund_dialog.act(fn, **kwargs)


# ------------------------------------------------------------------ picking a payment

st.title(_("Refunds"))
wanted = st.query_params.get("payment")
if wanted and st.session_state.get("refund_wanted") != wanted:
    st.session_state["refund_wanted"] = wanted
    st.session_state["refund_query"] = wanted

with st.form("refund_search", border=False):
    cols = st.columns([4, 1], vertical_alignment="bottom")
    cols[0].text_input(_("Find a payment"), key="refund_query", placeholder=_("Order id, track id or phone number"))
    cols[1].form_submit_button(_("Find"), width="stretch")

hits: list[refunds.PaymentHit] = []
query = (st.session_state.get("refund_query") or "").strip()
if query:
    try:
        hits = refunds.find_payments(engine, actor, query=query)
    except Exception as exc:
        show_error(exc)
    if not hits:
        st.info(_("No payment matches “{query}”. Search by the exact order id or track id, or by phone number.")
                .format(query=md_iso(query)))

selected: refunds.PaymentHit | None = None
if len(hits) == 1:
    selected = hits[0]
elif hits:
    selected = st.selectbox(
        _("Payments found"), hits, key="refund_pick",
        format_func=lambda h: " · ".join((plain_iso(h.order_id), plain_iso(money(h.amount_fils, h.currency)),
                                          plain_iso(h.customer_name or "—"), plain_iso(kuwait_time(h.created_at)),
                                          plain(status_label(h.status)))),
    )

refund_dialog.show_last("refund", threshold)

# ------------------------------------------------------------------ the selected payment


def _payment_panel(hit: refunds.PaymentHit) -> None:
    try:
        summary = refunds.refund_summary(engine, payment_pk=hit.payment_pk, actor=actor)
    except Exception as exc:
        show_error(exc)
        return
    st.subheader(_("Payment {order}").format(order=md_iso(hit.order_id)))
    st.caption(" · ".join((md_iso(hit.customer_name) if hit.customer_name else _("Customer unknown"),
                           md(method_label(hit.method)), md_iso(kuwait_time(hit.created_at)),
                           md(payment_status_label(hit.status, hit.refund_state, hit.refund_pending_fils,
                                                   hit.currency)))))
    m = st.columns(4)
    m[0].metric(_("Captured"), money(summary.captured_fils, summary.currency))
    m[1].metric(_("Already refunded"), money(summary.completed_fils, summary.currency),
                help=_("Executed by UPayments and on its way to the customer."))
    m[2].metric(_("Pending"), money(summary.outstanding_fils, summary.currency),
                help=_("Initiated and not executed yet (can still be cancelled), awaiting approval, or being sent."))
    m[3].metric(_("Refundable now"), money(summary.refundable_fils, summary.currency))
    if not actor.can(Action.REQUEST_REFUND):
        st.caption(_("Your role can see refunds but not make them."))
    elif summary.can_refund:
        refund_dialog.refund_form(summary)
    else:
        st.info(said_md(summary.reason_not))
    rows, _total = _list(actor, refunds.RefundFilter(payment_pk=hit.payment_pk), 1)
    if rows:
        st.markdown("**{}**".format(_("Refunds of this payment")))
        tables.table(_table(rows, with_payment=False))
        _actions(rows)


def _actions(rows: list[refunds.RefundRow]) -> None:
    """Approve / reject (not for the requester) and cancel buttons for the rows that allow them."""
    client = state.gateway
    for row in rows:
        label = _label(row)
        if row.state == "pending_approval" and actor.can(Action.APPROVE_REFUND):
            with st.container(border=True):
                st.markdown(_("**{refund}** — requested by {who} on {when}, awaiting approval").format(
                    refund=label, who=md_iso(row.requested_by), when=md_iso(kuwait_time(row.created_at))))
                noted = [_("note: {note}").format(note=plain_iso(row.note))] if row.note else []
                st.text(" · ".join([plain_iso(row.customer_name) if row.customer_name else _("Customer unknown"),
                                    _("paid by {method}").format(method=plain(method_label(row.method))),
                                    _("reason: {reason}").format(reason=plain(reason_label(row.reason))), *noted]))
                if row.requested_by == actor.email:
                    st.caption(_("Another finance or admin person must approve or reject your request."))
                    if st.button(_("Withdraw request"), key=f"refund_withdraw_{row.id}"):
                        _act(refunds.cancel_refund, engine=engine, client=client(), actor=actor, refund_id=row.id)
                    continue
                note = st.text_input(_("Reason for rejecting"), key=f"refund_reject_note_{row.id}")
                a, b = st.columns(2)
                if a.button(_("Approve and send"), key=f"refund_approve_{row.id}", type="primary"):
                    _act(refunds.approve_refund, engine=engine, client=client(), actor=actor, refund_id=row.id)
                if b.button(_("Reject"), key=f"refund_reject_{row.id}"):
                    _act(refunds.reject_refund, engine=engine, actor=actor, refund_id=row.id, note=note)
        elif row.state == RefundState.NEEDS_SPLIT and actor.can(Action.REQUEST_REFUND):
            _split_section(row)
        elif row.state == "initiated" and actor.can(Action.CANCEL_REFUND):
            cols = st.columns([3, 1], vertical_alignment="center")
            if row.expected_arrival:
                cols[0].write(_("{refund} — initiated, expected on the customer's account by {day}").format(
                    refund=label, day=md_iso(short_day(row.expected_arrival, year=True))))
            else:
                cols[0].write(_("{refund} — initiated").format(refund=label))
            if cols[1].button(_("Cancel refund"), key=f"refund_cancel_{row.id}"):
                _act(refunds.cancel_refund, engine=engine, client=client(), actor=actor, refund_id=row.id)


def _label(row: refunds.RefundRow) -> str:
    """``#12 · 5.000 KWD · SD-…`` as Markdown, its values isolated."""
    return " · ".join((md_iso(f"#{row.id:d}"), md_iso(money(row.amount_fils, row.currency)), md_iso(row.order_id)))


def _split_section(row: refunds.RefundRow) -> None:
    """A refund on a split payment: UPayments refunded nothing; finance sets the amount to take from each vendor."""
    try:
        shares = refunds.vendor_shares(engine, actor, refund_id=row.id)
    except Exception as exc:
        show_error(exc)
        return
    with st.container(border=True):
        st.markdown(_("**{refund}** — split payment: set the amount to refund from each vendor (up to {amount} in "
                      "all)").format(refund=_label(row), amount=md_iso(money(row.amount_fils, row.currency))))
        tables.table([{_("Vendor IBAN"): s.iban, _("Paid"): money(s.total_paid_fils, row.currency),
                      _("Refunded"): money(s.refunded_fils, row.currency),
                      _("Refundable"): money(s.remaining_fils, row.currency)} for s in shares])
        with st.form(f"refund_split_{row.id}"):
            texts = {s.refund_request_id: st.text_input(
                _("From {iban} ({currency})").format(iban=md_iso(s.iban), currency=md(row.currency)),
                key=f"refund_split_{row.id}_{s.refund_request_id}",
                placeholder=plain(_("up to {amount}").format(amount=money(s.remaining_fils, row.currency))))
                for s in shares}
            send = st.form_submit_button(_("Send per-vendor refund"), type="primary")
        if st.button(_("Withdraw"), key=f"refund_split_withdraw_{row.id}"):
            _act(refunds.cancel_refund, engine=engine, client=state.gateway(), actor=actor, refund_id=row.id)
    if send:
        try:
            amounts = {rid: parse_amount(text, row.currency, allow_zero=True) for rid, text in texts.items()
                       if text.strip()}
        except ValueError as exc:
            show_error(exc)
            return
        _act(refunds.send_split_refund, engine=engine, client=state.gateway(), actor=actor, refund_id=row.id,
             amounts=amounts)


if selected is not None:
    _payment_panel(selected)
if "refund_confirm" in st.session_state:
    refund_dialog.confirm_dialog(engine, actor, threshold)

if actor.can(Action.SYNC) and st.button(_("Refresh statuses"), key="refund_refresh",
                                         help=_("Ask UPayments which refunds have been executed")):
    try:
        changed = refunds.refresh_refunds(engine, state.gateway(), actor=actor,
                                      payment_pk=selected.payment_pk if selected else None)
    except Exception as exc:
        show_error(exc)
    else:
        _changed()
        st.toast(_("Refund statuses refreshed: {n} changed.").format(n=number(changed)))
        st.rerun()

# ------------------------------------------------------------------ approvals waiting, and all refunds

st.divider()
if actor.can(Action.APPROVE_REFUND):
    # A few at a time: each card has a note field and two buttons, and 25 of them (a busy shop's queue) made
    # the page long to scroll on a phone and slow to draw (bench/pages.py, "open a payment").
    ra_page = int(st.session_state.get("ra_page", 1))
    waiting, n_waiting = _list(actor, refunds.RefundFilter(states=("pending_approval",)), ra_page,
                               APPROVALS_PAGE_SIZE)
    mine = [r for r in waiting if selected is None or r.payment_pk != selected.payment_pk]
    if mine:
        st.subheader(_("Awaiting approval ({n})").format(n=number(n_waiting)))
        _actions(mine)
        ra_pages = page_count(n_waiting, APPROVALS_PAGE_SIZE)
        if ra_pages > 1:
            st.caption(_("{refunds} · page {page} of {pages}").format(
                refunds=ngettext("{n} refund", "{n} refunds", n_waiting).format(n=number(n_waiting)),
                page=number(min(ra_page, ra_pages)), pages=number(ra_pages)))
            pager("ra_page", "ra", ra_page, ra_pages)

st.subheader(_("All refunds"))
with st.form("refund_filters"):
    f = st.columns(4)
    states = f[0].multiselect(_("State"), list(STATE_LABELS), key="rf_states", placeholder=_("Any"),
                              format_func=lambda s: plain(state_label(s)))
    days = f[1].date_input(_("Requested between"), value=[], key="rf_days", format="YYYY-MM-DD")
    who = f[2].selectbox(_("Requested by"), ["", *refunds.distinct_requesters(engine, actor)], key="rf_who",
                         format_func=lambda e: plain(e) or _("Anyone"))
    order = f[3].text_input(_("Order id"), key="rf_order")
    if st.form_submit_button(_("Apply filters")):
        st.session_state["rf_page"] = 1
since = days[0] if isinstance(days, tuple) and len(days) >= 1 else None
until = days[1] if isinstance(days, tuple) and len(days) == 2 else since
flt = refunds.RefundFilter(states=tuple(states), since=since if isinstance(since, date) else None,
                       until=until if isinstance(until, date) else None, requested_by=who or None,
                       order_id=order or None)
page = int(st.session_state.get("rf_page", 1))
try:
    rows, total = _list(actor, flt, page)
except Exception as exc:
    show_error(exc)
    rows, total = [], 0
pages = page_count(total, PAGE_SIZE)
st.caption(_("{refunds} · page {page} of {pages}").format(
    refunds=ngettext("{n} refund", "{n} refunds", total).format(n=number(total)), page=number(min(page, pages)),
    pages=number(pages)))
tables.dataframe(_table(rows), key="refunds_all")
spare = pager("rf_page", "rf", page, pages)
if actor.can(Action.EXPORT_REFUNDS):
    spare.download_button(
        _("Export CSV"), key="rf_export", file_name="refunds.csv", mime="text/csv", on_click="ignore",
        data=lambda: "".join(refunds.export_refunds_csv(engine, actor, flt)),
    )
