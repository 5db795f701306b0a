"""A saved-card charge as one line for the page: its state in words and what to do next."""

from __future__ import annotations

from dataclasses import dataclass

from services.models import CardCharge, CardChargeState
from services.money import format_money
from services.sentence import say


@dataclass(frozen=True)
class ChargeView:
    """A charge intent as the page shows it."""

    id: int
    state: str
    order_id: str
    amount: str
    card: str
    requested_by: str
    approved_by: str | None
    message: str

    @property
    def needs_settling(self) -> bool:
        """Uncertain: a person checks with UPayments and settles it (track id, or not charged)."""
        return self.state == CardChargeState.UNCERTAIN


def view(charge: CardCharge) -> ChargeView:
    """A charge as one line for the page."""
    messages = {
        CardChargeState.PENDING_APPROVAL: say("Waiting for a second person to approve it."),
        CardChargeState.REJECTED: say("Rejected; nothing was charged."),
        CardChargeState.SENDING: say("Being charged…"),
        CardChargeState.UNCERTAIN: charge.error or say(
            "Uncertain — check with UPayments: find this order in the UPayments portal and enter its track id, "
            "or mark it not charged. It will not be sent again."),
        CardChargeState.PAID: say("Charged."),
        CardChargeState.DECLINED: say("The card was declined; nothing was charged."),
        CardChargeState.FAILED: charge.error or say("Not charged."),
        CardChargeState.NOT_CHARGED: charge.error or say("Not charged (confirmed in the UPayments portal)."),
    }
    return ChargeView(id=charge.id or 0, state=charge.state, order_id=charge.order_id,
                      amount=format_money(charge.amount_fils, charge.currency), card=charge.card_label or "",
                      requested_by=charge.requested_by, approved_by=charge.approved_by,
                      message=messages.get(CardChargeState(charge.state), charge.state))
