"""Webhook inbox: every gateway notification and customer redirect as received, what it matched, re-process."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import reads, state
from dashboard.errors import show_error
from dashboard.formatting import kuwait_time, status_label
from dashboard.safe import cells, md, plain
from services import sync
from services.permissions import Action

PAGE_SIZE = 50
STATE_LABELS = {"waiting": "Waiting / to retry", "problem": "Problem", "verified": "Verified"}
SOURCE_LABELS = {"webhook": "Webhook", "redirect": "Redirect"}

actor = state.actor()
engine = state.engine()


def _table(rows: list[sync.InboxRow]) -> list[dict[str, Any]]:
    return [{
        "#": r.id, "Arrived (Kuwait)": kuwait_time(r.received_at, seconds=True),
        "Source": SOURCE_LABELS.get(r.source, r.source), "State": STATE_LABELS[r.state],
        "Matched payment": (f"{r.payment_order_id} · {status_label(r.payment_status)}" if r.payment_order_id
                            else ""),
        "Result claimed": r.result or "", "Duplicate": r.duplicate, "Order id": r.order_id or "",
        "Track id": r.track_id or "", "Problem": r.error or "",
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


st.title("Webhook inbox")
st.caption("Every notification from UPayments and every customer redirect, stored as received. Nothing here is "
           "trusted as it is: each one is checked with the gateway's own status look-up before a payment changes.")

with st.container(horizontal=True, vertical_alignment="bottom"):
    source = st.segmented_control("Source", ["webhook", "redirect"], key="inbox_source",
                                  format_func=lambda s: SOURCE_LABELS[s])
    wanted = st.segmented_control("State", list(STATE_LABELS), key="inbox_state",
                                  format_func=lambda s: STATE_LABELS[s])
    text = st.text_input("Order or track id", key="inbox_text", placeholder="exact id")
    if st.button("Refresh", icon=":material/refresh:"):
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
        st.warning(f"Delivery #{done.event_id:d} could not be checked now: {md(done.error)} It will be retried.")
    elif done.error:
        st.info(f"Delivery #{done.event_id:d} re-processed: {md(done.error)}")
    else:
        st.success(f"Delivery #{done.event_id:d} verified with the gateway: order {md(done.order_id)} is "
                   f"{md(status_label(done.status_after))}.")

try:
    rows, total = reads.inbox_page(actor, flt, offset=offset, limit=PAGE_SIZE)
except Exception as exc:
    show_error(exc)
    st.stop()

if not rows:
    st.info("No deliveries match." if total == 0 and (source or wanted or text) else
            "No deliveries yet. They appear here as soon as the gateway calls this dashboard's webhook URL.")
    st.stop()

st.caption(f"{offset + 1:,}–{offset + len(rows):,} of {total:,}, newest first. Select a row to see its raw body.")
event = st.dataframe(cells(_table(rows)), key="inbox_table", on_select="rerun", selection_mode="single-row",
                     hide_index=True, width="stretch")
with st.container(horizontal=True):
    if st.button("Newer", disabled=offset == 0, icon=":material/chevron_left:"):
        st.session_state["inbox_offset"] = max(0, offset - PAGE_SIZE)
        st.rerun()
    if st.button("Older", disabled=offset + PAGE_SIZE >= total, icon=":material/chevron_right:"):
        st.session_state["inbox_offset"] = offset + PAGE_SIZE
        st.rerun()

picked = event.selection.rows if event is not None else []
if picked and picked[0] < len(rows):
    row = rows[picked[0]]
    st.subheader(f"Delivery #{row.id:d}")
    try:
        detail = sync.get_event(engine, actor, row.id)
    except Exception as exc:
        show_error(exc)
        st.stop()
    st.markdown(f"**Arrived:** {kuwait_time(detail.received_at, seconds=True)} (Kuwait) · "
                f"**Came by:** {md(detail.transport or '—')} · "
                f"**Content type:** {md(detail.content_type or '—')} · **Processed:** "
                f"{kuwait_time(detail.processed_at, seconds=True) if detail.processed_at else 'not yet'}")
    if detail.error:
        st.warning(md(detail.error))
    if detail.query:  # §18 F5: the fields may come in the query string
        st.code(plain("?" + detail.query), language=None, wrap_lines=True)
    st.code(plain(detail.body), language=None, wrap_lines=True)  # shown as text: the body is untrusted data
    if actor.can(Action.REPROCESS_WEBHOOK):
        st.button("Re-process", key="inbox_reprocess", icon=":material/replay:", on_click=_reprocess,
                  args=(row.id,), help="Ask the gateway for this payment's status again and apply its answer.")
