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
from dashboard.errors import show_error
from dashboard.formatting import method_label, money
from dashboard.safe import md
from services import refunds
from services.models import RefundState
from services.money import parse_amount
from services.permissions import Actor


def show_outcome(refund: Any, threshold: int) -> None:
    """Tell the person, in one sentence, what happened to the refund they just acted on."""
    amount = money(refund.amount_fils, refund.currency)
    if refund.state == "pending_approval":
        st.info(f"Refund of {amount} requested. It is above {money(threshold)}, so another finance or admin "
                "person must approve it before it is sent.")
    elif refund.state == "initiated":
        st.success(f"Refund of {amount} initiated with UPayments (refund #{refund.id:d}). It can still be cancelled "
                   "until the gateway executes it.")
    elif refund.state == "refunded":
        st.success(f"Refund of {amount} is complete.")
    elif refund.state == RefundState.FAILED:
        st.error(md(refund.error) or "The refund failed; nothing was refunded.")
    elif refund.state == RefundState.NEEDS_SPLIT:
        st.warning(md(refund.error) or "This payment was split between vendors; set the amount per vendor below.")
    elif refund.state == "uncertain":
        st.warning(f"{md(refund.error)} Click “Refresh statuses” in a moment.")
    elif refund.state in ("rejected", "cancelled"):
        st.info(f"Refund of {amount} is {md(refund.state)}.")
    else:
        st.info(f"Refund of {amount} is being sent; click “Refresh statuses” in a moment.")


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


def refund_form(summary: refunds.RefundSummary, prefix: str = "refund") -> None:
    """Amount, reason and note; "Review refund" puts the request in ``{prefix}_confirm`` for the dialog."""
    key_name = f"{prefix}_key_{summary.payment_pk}"
    st.session_state.setdefault(key_name, f"rf-{uuid.uuid4().hex}")  # one key per refund intent, kept on rerun
    # Outside the form, so choosing "Partial amount" shows the amount box at once (and "Full" hides it).
    kind = st.radio("Amount", ["Full remaining amount", "Partial amount"], key=f"{prefix}_kind", horizontal=True)
    with st.form(f"{prefix}_form"):
        amount_text = ""
        if not kind.startswith("Full"):
            amount_text = st.text_input(f"Partial amount ({md(summary.currency)})", key=f"{prefix}_amount",
                                        placeholder=f"up to {money(summary.refundable_fils, summary.currency)}")
        reason = st.selectbox("Reason", list(refunds.REASONS), key=f"{prefix}_reason",
                              format_func=lambda r: refunds.REASONS[r])
        note = st.text_area("Note (required for “Other”)", key=f"{prefix}_note", max_chars=500)
        submitted = st.form_submit_button("Review refund", type="primary")
    if not submitted:
        return
    try:
        amount = (summary.refundable_fils if kind.startswith("Full")
                  else parse_amount(amount_text or "", summary.currency))
        if amount > summary.refundable_fils:
            raise ValueError(f"{money(amount, summary.currency)} is more than the "
                             f"{money(summary.refundable_fils, summary.currency)} still refundable on this payment.")
        if reason == "other" and not note.strip():
            raise ValueError("Please write a note saying why when the reason is “Other”.")
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

    @st.dialog("Confirm refund", on_dismiss=lambda: st.session_state.pop(f"{prefix}_confirm", None))
    def dialog() -> None:
        pending = st.session_state[f"{prefix}_confirm"]
        st.markdown(f"Refund **{money(pending['amount_fils'], pending['currency'])}** to "
                    f"**{md(pending['customer'] or 'the customer')}**")
        st.write(f"Order {md(pending['order_id'])} · paid by {md(method_label(pending['method']))} · reason: "
                 f"{md(refunds.REASONS[pending['reason']])}")
        if pending["amount_fils"] > threshold:
            st.caption(f"Above {money(threshold)}: another finance or admin person must approve it before it is "
                       "sent.")
        else:
            st.caption("The refund is sent to UPayments when you confirm.")
        left, right = st.columns(2)
        if left.button("Confirm refund", key=f"{prefix}_confirm_yes", type="primary", width="stretch"):
            st.session_state.pop(f"{prefix}_confirm", None)
            st.session_state.pop(f"{prefix}_key_{pending['payment_pk']}", None)  # the next refund is a new intent
            st.session_state.pop(f"{prefix}_amount", None)
            act(refunds.request_refund, prefix, engine=engine, client=state.gateway(), actor=actor,
                payment_pk=pending["payment_pk"], amount_fils=pending["amount_fils"], reason=pending["reason"],
                note=pending["note"], idempotency_key=pending["key"])
        if right.button("Go back", key=f"{prefix}_confirm_no", width="stretch"):
            st.session_state.pop(f"{prefix}_confirm", None)
            st.rerun()

    dialog()
