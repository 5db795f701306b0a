"""Reconciliation: where the cache and the gateway disagree, one-click re-sync, and "Sync now"."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import reads, state
from dashboard.errors import explain, said_md, said_plain, show_error
from dashboard.formatting import ago, number, status_label
from dashboard.i18n import _, ngettext
from dashboard.safe import md, md_iso
from services import sync
from services.permissions import Action, PermissionDenied

SHOWN = 50

actor = state.actor()
engine = state.engine()
settings = state.settings()


def _resync(items: list[sync.DriftItem]) -> None:
    """Re-sync each item with a payment; one audit row each; remember a one-line outcome."""
    done, failed, messages = 0, 0, []
    client = state.gateway()
    try:
        who = state.actor_at_click(Action.RECONCILE)
    except PermissionDenied as exc:
        st.session_state["recon_outcome"] = (0, len(items), [explain(exc)])
        return
    bar = st.progress(0.0, text=_("Re-syncing…")) if len(items) > 1 else None
    for index, item in enumerate(items):
        if item.payment_pk is None:
            continue
        try:
            result = sync.resync(engine, client, who, payment_pk=item.payment_pk)
        except Exception as exc:
            failed += 1
            messages.append(f"{item.order_id}: {explain(exc)}")
        else:
            done += 1
            if result.status_before != result.status_after:
                messages.append(f"{item.order_id}: {status_label(result.status_before)} → "
                                f"{status_label(result.status_after)}")
            elif result.problem:
                messages.append(f"{item.order_id}: {said_plain(result.problem)}")
        if bar is not None:
            bar.progress((index + 1) / len(items), text=_("Re-synced {done} of {total}").format(
                done=number(index + 1), total=number(len(items))))
    st.session_state["recon_outcome"] = (done, failed, messages)
    live = st.session_state.get("recon_live")
    if live:  # the live check is stale for the rows just re-synced
        synced = {i.payment_pk for i in items}
        st.session_state["recon_live"] = [i for i in live if i.payment_pk not in synced]
    reads.forget_drift()


st.title(_("Reconciliation"))
st.caption(_("The gateway has no list of payments, so the dashboard keeps its own copy up to date from webhooks, "
             "customer redirects and polling. This page shows where that copy may be wrong."))

# ------------------------------------------------------------------ sync now

last = sync.get_time(engine)
with st.container(horizontal=True, vertical_alignment="center"):
    st.markdown(_("**Last sync:** {when}").format(when=ago(last)))
    sync_clicked = st.button(_("Sync now"), key="recon_sync", icon=":material/sync:",
                             disabled=not actor.can(Action.SYNC),
                             help=_("Ask the gateway about every payment that is not final yet and retry waiting "
                                    "webhooks (at most {n} look-ups a minute).").format(
                                 n=number(settings.status_rate_per_minute)))
if sync_clicked:
    with st.status(_("Syncing with the gateway…"), expanded=True) as box:
        bar = st.progress(0.0, text=_("Preparing…"))

        def _progress(done: int, total: int) -> None:
            bar.progress(done / total if total else 1.0, text=_("Checked {done} of {total}").format(
                done=number(done), total=number(total)))

        try:
            report = sync.sync_pending(engine, state.gateway(), progress=_progress, actor=actor)
        except Exception as exc:
            box.update(label=_("Sync failed"), state="error")
            show_error(exc)
        else:
            bar.progress(1.0, text=_("Checked {done} of {total}").format(done=number(report.checked),
                                                                          total=number(report.total)))
            st.write(md(report.summary().capitalize() + "."))
            for problem in report.problems:
                st.caption(md(problem))
            box.update(label=_("Sync stopped by the gateway's rate limit") if report.rate_limited
                       else _("Sync finished"),
                       state="error" if report.rate_limited or report.errors else "complete", expanded=True)
            reads.forget_drift()

# ------------------------------------------------------------------ live check

with st.expander(_("Check cached statuses against the gateway"), expanded=False):
    st.caption(_("Looks up the least recently checked payments one by one, within the gateway's limit of "
                 "{n} look-ups a minute.").format(n=number(settings.status_rate_per_minute)))
    with st.form("recon_live_form", border=False):
        sample = st.number_input(_("Payments to check"), min_value=1, max_value=sync.MAX_LIVE_SAMPLE, value=10, step=5,
                                 key="recon_sample")
        live_clicked = st.form_submit_button(_("Check now"), icon=":material/fact_check:")
    if live_clicked:
        with st.status(_("Checking with the gateway…"), expanded=True) as box:
            bar = st.progress(0.0)

            def _checked(done: int, total: int) -> None:
                bar.progress(done / total if total else 1.0, text=_("Checked {done} of {total}").format(
                    done=number(done), total=number(total)))

            try:
                found = sync.find_drift(engine, actor, client=state.gateway(), sample=int(sample),
                                             limit=0, progress=_checked)
            except Exception as exc:
                box.update(label=_("Check failed"), state="error")
                show_error(exc)
            else:
                st.session_state["recon_live"] = [i for i in found if i.kind == sync.STATUS_MISMATCH]
                n = len(st.session_state["recon_live"])
                box.update(label=ngettext("Checked — {n} difference", "Checked — {n} differences", n).format(
                    n=number(n)), state="complete", expanded=True)

# ------------------------------------------------------------------ drift list

if "recon_outcome" in st.session_state:
    done, failed, messages = st.session_state.pop("recon_outcome")
    synced = ngettext("Re-synced {n} payment", "Re-synced {n} payments", done).format(n=number(done))
    said = _("{said}, {failed} failed").format(said=synced, failed=number(failed)) if failed else synced
    (st.warning if failed else st.success)(said + _("."))
    for line in messages[:20]:
        st.caption(md(line))  # composed in the reader's language when it was said

try:
    items = [*st.session_state.get("recon_live", []), *reads.stored_drift(actor)]
except Exception as exc:
    show_error(exc)
    st.stop()

kinds = st.pills(_("Show"), list(sync.KIND_LABELS), selection_mode="multi", key="recon_kinds",
                 format_func=lambda k: _(sync.KIND_LABELS[k]))
shown = [i for i in items if not kinds or i.kind in kinds][:SHOWN]
if not shown:
    st.success(_("Nothing to reconcile: the cache agrees with everything the dashboard knows."))
    st.stop()

counts: dict[str, int] = {}
for item in items:
    counts[item.kind] = counts.get(item.kind, 0) + 1
st.caption(" · ".join(f"{_(sync.KIND_LABELS[k])}: {number(n)}" for k, n in counts.items())
           + (_(" — showing the first {n}").format(n=number(SHOWN)) if len(items) > SHOWN else ""))
resyncable = [i for i in shown if i.payment_pk is not None]
st.button(_("Re-sync all shown ({n})").format(n=number(len(resyncable))), key="recon_all", icon=":material/sync:",
          disabled=not resyncable, on_click=_resync, args=(resyncable,),
          help=_("Ask the gateway about each payment listed below and apply its answers (each one is audited)."))


def _line(item: sync.DriftItem) -> dict[str, Any]:
    return {"kind": _(sync.KIND_LABELS[item.kind]), "order": item.order_id or "—",
            "cache": status_label(item.cache_status), "gateway": status_label(item.gateway_status)}


for index, item in enumerate(shown):
    line = _line(item)
    with st.container(border=True, key=f"recon_row_{index}"):
        cols = st.columns([5, 1], vertical_alignment="center")
        cols[0].markdown(_("**{order}** · {kind} · cache: {cache} · gateway: {gateway}").format(
            order=md_iso(line["order"]), kind=md(line["kind"]), cache=md(line["cache"]), gateway=md(line["gateway"])))
        cols[0].caption(said_md(item.detail))
        if item.payment_pk is not None:
            cols[1].button(_("Re-sync"), key=f"recon_one_{item.kind}_{item.payment_pk}", on_click=_resync,
                           args=([item],), width="stretch")
        elif item.event_id is not None:
            cols[1].caption(_("Webhook #{id}").format(id=number(item.event_id)))
