"""Webhook inbox: every gateway notification and customer redirect as received, what it matched, re-process."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import reads, state, tables
from dashboard.errors import said_md, said_plain, show_error
from dashboard.formatting import kuwait_time, number, status_label
from dashboard.i18n import N_, _
from dashboard.safe import md, md_iso, plain
from services import sync
from services.permissions import Action

PAGE_SIZE = 50
STATE_LABELS = {"waiting": N_("Waiting / to retry"), "problem": N_("Problem"), "verified": N_("Verified")}
SOURCE_LABELS = {"webhook": N_("Webhook"), "redirect": N_("Redirect")}

actor = state.actor()
engine = state.engine()


def _table(rows: list[sync.InboxRow]) -> list[dict[str, Any]]:
    return [{
        "#": r.id, _("Arrived (Kuwait)"): kuwait_time(r.received_at, seconds=True),
        _("Source"): _(SOURCE_LABELS.get(r.source, r.source)), _("State"): _(STATE_LABELS[r.state]),
        _("Matched payment"): (f"{r.payment_order_id} · {status_label(r.payment_status)}" if r.payment_order_id
                               else ""),
        _("Result claimed"): r.result or "", _("Duplicate"): r.duplicate, _("Order id"): r.order_id or "",
        _("Track id"): r.track_id or "", _("Problem"): said_plain(r.error),
    } for r in rows]


def _reprocess(event_id: int) -> None:
    try:
        outcome = sync.process_event(engine, state.gateway(), event_id,
                                     actor=state.actor_at_click(Action.REPROCESS_WEBHOOK))
    except Exception as exc:
        st.session_state["inbox_error"] = exc
    else:
        st.session_state["inbox_outcome"] = outcome
    reads.forget_inbox()


st.title(_("Webhook inbox"))
st.caption(_("Every notification from UPayments and every customer redirect, stored as received. Nothing here is "
             "trusted as it is: each one is checked with the gateway's own status look-up before a payment "
             "changes."))

with st.container(horizontal=True, vertical_alignment="bottom"):
    source = st.segmented_control(_("Source"), ["webhook", "redirect"], key="inbox_source",
                                  format_func=lambda s: _(SOURCE_LABELS[s]))
    wanted = st.segmented_control(_("State"), list(STATE_LABELS), key="inbox_state",
                                  format_func=lambda s: _(STATE_LABELS[s]))
    text = st.text_input(_("Order or track id"), key="inbox_text", placeholder=_("exact id"))
    if st.button(_("Refresh"), icon=":material/refresh:"):
        reads.forget_inbox()

flt = sync.InboxFilter(source=source, state=wanted, text=text or None)
if st.session_state.get("inbox_filter") != flt:
    st.session_state["inbox_filter"], st.session_state["inbox_offset"] = flt, 0
offset = int(st.session_state.get("inbox_offset", 0))

if "inbox_error" in st.session_state:
    show_error(st.session_state.pop("inbox_error"))
if "inbox_outcome" in st.session_state:
    done = st.session_state.pop("inbox_outcome")
    if done.retry:
        st.warning(_("Delivery #{id} could not be checked now: {error} It will be retried.").format(
            id=number(done.event_id), error=said_md(done.error)))
    elif done.error:
        st.info(_("Delivery #{id} re-processed: {error}").format(id=number(done.event_id),
                                                              error=said_md(done.error)))
    else:
        st.success(_("Delivery #{id} verified with the gateway: order {order} is {status}.").format(
            id=number(done.event_id), order=md_iso(done.order_id), status=md(status_label(done.status_after))))

try:
    rows, total = reads.inbox_page(actor, flt, offset=offset, limit=PAGE_SIZE)
except Exception as exc:
    show_error(exc)
    st.stop()

if not rows:
    st.info(_("No deliveries match.") if total == 0 and (source or wanted or text) else
            _("No deliveries yet. They appear here as soon as the gateway calls this dashboard's webhook URL."))
    st.stop()

st.caption(_("{first}–{last} of {total}, newest first. Select a row to see its raw body.").format(
    first=number(offset + 1), last=number(offset + len(rows)), total=number(total)))
event = tables.dataframe(_table(rows), key="inbox_table", on_select="rerun", selection_mode="single-row",
                         width="stretch")
with st.container(horizontal=True):
    if st.button(_("Newer"), disabled=offset == 0, icon=":material/chevron_left:"):
        st.session_state["inbox_offset"] = max(0, offset - PAGE_SIZE)
        st.rerun()
    if st.button(_("Older"), disabled=offset + PAGE_SIZE >= total, icon=":material/chevron_right:"):
        st.session_state["inbox_offset"] = offset + PAGE_SIZE
        st.rerun()

picked = event.selection.rows if event is not None else []
if picked and picked[0] < len(rows):
    row = rows[picked[0]]
    st.subheader(_("Delivery #{id}").format(id=number(row.id)))
    try:
        detail = sync.get_event(engine, actor, row.id)
    except Exception as exc:
        show_error(exc)
        st.stop()
    st.markdown(_("**Arrived:** {arrived} (Kuwait) · **Came by:** {transport} · **Content type:** {type} · "
                  "**Processed:** {processed}").format(
        arrived=md_iso(kuwait_time(detail.received_at, seconds=True)), transport=md_iso(detail.transport or "—"),
        type=md_iso(detail.content_type or "—"),
        processed=md_iso(kuwait_time(detail.processed_at, seconds=True)) if detail.processed_at else _("not yet")))
    if detail.error:
        st.warning(said_md(detail.error))
    if detail.query:  # §18 F5: the fields may come in the query string
        st.code(plain("?" + detail.query), language=None, wrap_lines=True)
    st.code(plain(detail.body), language=None, wrap_lines=True)  # shown as text: the body is untrusted data
    if actor.can(Action.REPROCESS_WEBHOOK):
        st.button(_("Re-process"), key="inbox_reprocess", icon=":material/replay:", on_click=_reprocess,
                  args=(row.id,), help=_("Ask the gateway for this payment's status again and apply its answer."))
