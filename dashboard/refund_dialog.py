"""The refund form and its confirm dialog, shared by the Refunds page and the payment detail on Transactions.

One intent, one idempotency key: the key is made when the form is first shown for a payment and kept across
reruns; it is dropped only when the person confirms, so the next refund on that payment is a new intent. The
service (``refunds.request_refund``) does the exactly-once work; this module only carries the key to it.
Widget and state keys carry a ``prefix`` so two pages never share a half-filled refund.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import streamlit as st
from sqlalchemy.engine import Engine

from dashboard import reads, state
from dashboard.errors import said_md, show_error
from dashboard.formatting import method_label, money
from dashboard.i18n import N_, _
from dashboard.safe import md, md_iso, plain
from services import refunds
from services.models import RefundState
from services.money import parse_amount
from services.permissions import Actor
from services.sentence import say


def reason_label(reason: str | None) -> str:
    """A refund reason code in words (``refunds.REASONS``), in the person's language."""
    known = refunds.REASONS.get(reason or "")
    return _(known) if known else (reason or "—")


def show_outcome(refund: Any, threshold: int) -> None:
    """Tell the person, in one sentence, what happened to the refund they just acted on."""
    amount = md_iso(money(refund.amount_fils, refund.currency))
    if refund.state == "pending_approval":
        st.info(_("Refund of {amount} requested. It is above {threshold}, so another finance or admin person must "
                  "approve it before it is sent.").format(amount=amount, threshold=md_iso(money(threshold))))
    elif refund.state == "initiated":
        st.success(_("Refund of {amount} initiated with UPayments (refund #{id}). It can still be cancelled until "
                     "the gateway executes it.").format(amount=amount, id=md_iso(f"{refund.id:d}")))
    elif refund.state == "refunded":
        st.success(_("Refund of {amount} is complete.").format(amount=amount))
    elif refund.state == RefundState.FAILED:
        st.error(said_md(refund.error) or _("The refund failed; nothing was refunded."))
    elif refund.state == RefundState.NEEDS_SPLIT:
        st.warning(said_md(refund.error) or _("This payment was split between vendors; set the amount per vendor "
                                            "below."))
    elif refund.state == "uncertain":
        st.warning(_("{problem} Click “Refresh statuses” in a moment.").format(problem=said_md(refund.error)))
    elif refund.state in ("rejected", "cancelled"):
        st.info((_("Refund of {amount} is rejected.") if refund.state == "rejected"
                 else _("Refund of {amount} is cancelled.")).format(amount=amount))
    else:
        st.info(_("Refund of {amount} is being sent; click “Refresh statuses” in a moment.").format(amount=amount))


def act(fn: Callable[..., Any], prefix: str = "refund", **kwargs: Any) -> None:
    """Run one refund action; remember its outcome (``{prefix}_outcome``/``_error``) for the next run and rerun."""
    try:
        refund = fn(**kwargs)
    except Exception as exc:
        st.session_state[f"{prefix}_error"] = exc
    else:
        st.session_state[f"{prefix}_outcome"] = refund
    reads.forget_refunds()
    reads.forget_search()  # the payment's refund state changed: lists and totals re-read it
    st.rerun()


def show_last(prefix: str, threshold: int) -> None:
    """The error or outcome the last action left for this run."""
    if f"{prefix}_error" in st.session_state:
        show_error(st.session_state.pop(f"{prefix}_error"))
    if f"{prefix}_outcome" in st.session_state:
        show_outcome(st.session_state.pop(f"{prefix}_outcome"), threshold)


FULL, PARTIAL = N_("Full remaining amount"), N_("Partial amount")  # the radio's values (tests set them) and msgids


def refund_form(summary: refunds.RefundSummary, prefix: str = "refund") -> None:
    """Amount, reason and note; "Review refund" puts the request in ``{prefix}_confirm`` for the dialog."""
    key_name = f"{prefix}_key_{summary.payment_pk}"
    st.session_state.setdefault(key_name, f"rf-{uuid.uuid4().hex}")  # one key per refund intent, kept on rerun
    # Outside the form, so choosing "Partial amount" shows the amount box at once (and "Full" hides it).
    kind = st.radio(_("Amount"), [FULL, PARTIAL], key=f"{prefix}_kind", horizontal=True,
                    format_func=lambda k: md(_(k)))
    with st.form(f"{prefix}_form"):
        amount_text = ""
        if kind != FULL:
            amount_text = st.text_input(
                _("Partial amount ({currency})").format(currency=md(summary.currency)), key=f"{prefix}_amount",
                placeholder=plain(_("up to {amount}").format(amount=money(summary.refundable_fils,
                                                                           summary.currency))))
        reason = st.selectbox(_("Reason"), list(refunds.REASONS), key=f"{prefix}_reason",
                              format_func=lambda r: plain(reason_label(r)))
        note = st.text_area(_("Note (required for “Other”)"), key=f"{prefix}_note", max_chars=500)
        submitted = st.form_submit_button(_("Review refund"), type="primary")
    if not submitted:
        return
    try:
        amount = summary.refundable_fils if kind == FULL else parse_amount(amount_text or "", summary.currency)
        if amount > summary.refundable_fils:
            raise ValueError(say("{amount} is more than the {refundable} still refundable on this payment.",
                                 amount=money(amount, summary.currency),
                                 refundable=money(summary.refundable_fils, summary.currency)))
        if reason == "other" and not note.strip():
            raise ValueError(say("Please write a note saying why when the reason is “Other”."))
    except ValueError as exc:
        show_error(exc)
        return
    st.session_state[f"{prefix}_confirm"] = {
        "payment_pk": summary.payment_pk, "order_id": summary.order_id, "amount_fils": amount,
        "currency": summary.currency, "customer": summary.customer_name, "method": summary.method,
        "reason": reason, "note": note.strip() or None, "key": st.session_state[key_name],
    }
    st.rerun()


def confirm_dialog(engine: Engine, actor: Actor, threshold: int, prefix: str = "refund") -> None:
    """Open the confirm dialog for the request waiting in ``{prefix}_confirm`` (call it when that key is set)."""

    @st.dialog(_("Confirm refund"), on_dismiss=lambda: st.session_state.pop(f"{prefix}_confirm", None))
    def dialog() -> None:
        pending = st.session_state[f"{prefix}_confirm"]
        amount = md_iso(money(pending["amount_fils"], pending["currency"]))
        if pending["customer"]:
            st.markdown(_("Refund **{amount}** to **{customer}**").format(amount=amount,
                                                                         customer=md_iso(pending["customer"])))
        else:
            st.markdown(_("Refund **{amount}** to **the customer**").format(amount=amount))
        st.write(_("Order {order} · paid by {method} · reason: {reason}").format(
            order=md_iso(pending["order_id"]), method=md(method_label(pending["method"])),
            reason=md(reason_label(pending["reason"]))))
        if pending["amount_fils"] > threshold:
            st.caption(_("Above {threshold}: another finance or admin person must approve it before it is sent.")
                       .format(threshold=md_iso(money(threshold))))
        else:
            st.caption(_("The refund is sent to UPayments when you confirm."))
        left, right = st.columns(2)
        if left.button(_("Confirm refund"), key=f"{prefix}_confirm_yes", type="primary", width="stretch"):
            st.session_state.pop(f"{prefix}_confirm", None)
            st.session_state.pop(f"{prefix}_key_{pending['payment_pk']}", None)  # the next refund is a new intent
            st.session_state.pop(f"{prefix}_amount", None)
            act(refunds.request_refund, prefix, engine=engine, client=state.gateway(), actor=actor,
                payment_pk=pending["payment_pk"], amount_fils=pending["amount_fils"], reason=pending["reason"],
                note=pending["note"], idempotency_key=pending["key"])
        if right.button(_("Go back"), key=f"{prefix}_confirm_no", width="stretch"):
            st.session_state.pop(f"{prefix}_confirm", None)
            st.rerun()

    dialog()
