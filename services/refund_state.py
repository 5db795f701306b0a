"""The one definition of a payment's refund state, shared by search, export, the detail, refunds and analytics.

A refund "counts" once the gateway has taken it on (``initiated``) or executed it (``refunded``): that money is
leaving the shop, and it is what ``Payment.refunded_fils`` and analytics' refund figures add up. Requests awaiting
approval, being sent, or whose outcome is being settled are *pending*: shown beside the state, never in it.
Rejected, cancelled and failed refunds moved no money.

From those two sums a paid payment is ``partially_refunded`` (something counted, less than the amount) or
``refunded`` (all of it). The state is stored on the payment (``Payment.refund_state``, indexed) by the refund
ledger in the same transaction as the refund row, so the Transactions filter stays an index look-up.
"""

from __future__ import annotations

from enum import StrEnum

from services.models import PaymentStatus, RefundState
from services.sentence import N_, Sentence, phrase

#: Refund states whose amount counts as refunded (committed at the gateway).
COUNTED: frozenset[str] = frozenset({RefundState.INITIATED.value, RefundState.REFUNDED.value})
#: Refund states whose amount is reserved but not yet counted: shown as "pending" beside the state.
PENDING: frozenset[str] = frozenset({RefundState.PENDING_APPROVAL.value, RefundState.SENDING.value,
                                     RefundState.UNCERTAIN.value})


class RefundStatus(StrEnum):
    """A paid payment's refund state (no state: nothing refunded)."""

    PARTIAL = "partially_refunded"
    FULL = "refunded"


#: Words a shop reads, for the states and for the filter (marked for the catalog: translated where shown).
LABELS: dict[str, str] = {RefundStatus.PARTIAL: N_("Partially refunded"), RefundStatus.FULL: N_("Refunded")}
#: A refund's own state (the refund ledger), in words (translated where shown).
REFUND_STATE_LABELS: dict[str, str] = {
    "pending_approval": N_("Awaiting approval"), "rejected": N_("Rejected"), "sending": N_("Being sent"),
    "uncertain": N_("Being checked"), "initiated": N_("Initiated"), "refunded": N_("Refunded"),
    "cancelled": N_("Cancelled"), "failed": N_("Failed"), "needs_split": N_("Needs per-vendor split"),
}
#: The states, in the order filters offer them.
STATES: tuple[str, ...] = (RefundStatus.PARTIAL.value, RefundStatus.FULL.value)


def refund_status(status: str, amount_fils: int, refunded_fils: int) -> RefundStatus | None:
    """``refunded`` when counted refunds cover the amount, ``partially_refunded`` when they cover part, else None."""
    if status != PaymentStatus.PAID or refunded_fils <= 0:
        return None
    return RefundStatus.FULL if refunded_fils >= amount_fils else RefundStatus.PARTIAL


def state_phrase(state: str) -> Sentence:
    """A refund's state as words inside a sentence ("Awaiting approval"), translated where the sentence is shown."""
    return phrase(REFUND_STATE_LABELS.get(state, state))


def status_word(status: str, refund_state: str | None) -> str:
    """The one status a person sees: the refund state of a paid payment when there is one, else the status."""
    return refund_state if status == PaymentStatus.PAID and refund_state in LABELS else status
