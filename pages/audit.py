"""Audit log (admin): browse and filter who did what, verify the hash chain, export as CSV (the export is audited)."""

from __future__ import annotations

from datetime import date
from typing import Any

import streamlit as st

from dashboard import state, tables
from dashboard.errors import said_md, show_error
from dashboard.formatting import kuwait_time, number
from dashboard.i18n import _
from dashboard.paging import page_count, pager
from dashboard.safe import md_iso, plain
from services import audit
from services.permissions import Action
from services.timeutil import kuwait_day_bounds

PAGE_SIZE = 100

actor = state.actor()
engine = state.engine()

st.title(_("Audit log"))
st.caption(_("Every change made through the dashboard, append-only. Each row carries the hash of the row before, so "
             "editing or deleting a row afterwards breaks the chain."))

left, right = st.columns([1, 3], vertical_alignment="center")
if left.button(_("Verify chain"), key="audit_verify", type="primary"):
    try:
        st.session_state["audit_verdict"] = audit.verify(engine, actor)
    except Exception as exc:
        show_error(exc)
verdict = st.session_state.get("audit_verdict")
if verdict is not None:
    if verdict.ok:
        right.success(_("Chain OK — all {n} entries verified; nothing was changed or removed.").format(
            n=number(verdict.checked)))
    else:
        right.error(_("Chain BROKEN at entry {seq}: {problem}. {n} entries before it are intact.").format(
            seq=md_iso(verdict.first_bad_seq), problem=said_md(verdict.problem), n=number(verdict.checked)))

with st.form("audit_filters"):
    cols = st.columns(4)
    who = cols[0].text_input(_("Actor (e-mail)"), key="audit_actor")
    actions = ["", *audit.distinct_actions(engine)]
    action = cols[1].selectbox(_("Action"), actions, key="audit_action",
                               format_func=lambda a: plain(a) or _("Any action"))
    target = cols[2].text_input(_("Target contains"), key="audit_target",
                                placeholder=_("order id, e-mail, refund:12"))
    days = cols[3].date_input(_("Between (Kuwait days)"), value=[], key="audit_days", format="YYYY-MM-DD")
    if st.form_submit_button(_("Apply filters")):
        st.session_state["audit_page"] = 1

first = days[0] if isinstance(days, tuple) and len(days) >= 1 else None
last = days[1] if isinstance(days, tuple) and len(days) == 2 else first
flt = audit.AuditFilter(
    actor=who.strip() or None, action=action or None, target=target.strip() or None,
    since=kuwait_day_bounds(first)[0] if isinstance(first, date) else None,
    until=kuwait_day_bounds(last)[1] if isinstance(last, date) else None,
)
page = int(st.session_state.get("audit_page", 1))
try:
    entries, total = audit.list_entries(engine, actor, flt, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
except Exception as exc:
    show_error(exc)
    st.stop()

rows: list[dict[str, Any]] = [{
    "#": e.seq, _("When (Kuwait)"): kuwait_time(e.at, seconds=True), _("Actor"): e.actor, _("Action"): e.action,
    _("Target"): e.target or "", _("Before"): e.before or "", _("After"): e.after or "",
} for e in entries]
pages = page_count(total, PAGE_SIZE)
st.caption(_("{total} entries · page {page} of {pages} · newest first").format(
    total=number(total), page=number(min(page, pages)), pages=number(pages)))
tables.dataframe(rows, key="audit_table")

spare = pager("audit_page", "audit", page, pages)
if actor.can(Action.EXPORT_AUDIT):
    spare.download_button(
        _("Export CSV"), key="audit_export", file_name="audit-log.csv", mime="text/csv", on_click="ignore",
        data=lambda: "".join(audit.export_csv(engine, actor, flt)),
    )
