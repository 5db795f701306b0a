"""Charging a saved card: with the customer present (a link offering their cards, :mod:`.present`) and without
(auto-deduct). This module is the facade of the parts; auto-deduct moves money, so it follows the refunds' rules
(services.intents, docs/security.md):

1. **Consent first** (:mod:`.consent`): no auto-deduct without the customer's recorded agreement for that card.
2. **Intent first** (:mod:`.charge_request`): the ``card_charge`` row is committed before the gateway hears of it;
   above the shop's threshold a second person approves.
3. **One sender** (:mod:`.charge_send`): only the winner of :func:`intents.claim` calls ``auto-deduct``; every
   twin waits for the recorded outcome (:mod:`.charge_rows`).
4. **Uncertain is settled by a person and a look-up** (:mod:`.charge_settle`): a lost answer leaves the charge
   "uncertain — check with UPayments"; it is never sent again, and blocks new charges on that card, until a
   finance or admin person enters the track id from the UPayments portal (get-payment-status, bound to the
   charge's order and amount by :mod:`.charge_answer`) or marks it not charged with a reason.
"""

from __future__ import annotations

from .charge_request import ChargeSettings, approve_charge, charge_saved_card, reject_charge
from .charge_rows import ChargeError
from .charge_settle import (
    STALE_SENDING_SECONDS,
    UncertainCharge,
    mark_not_charged,
    settle_charge,
    settle_in_flight,
    uncertain_charges,
)
from .charge_view import ChargeView, view
from .consent import CONSENT_CHANNELS, record_consent

__all__ = [
    "CONSENT_CHANNELS",
    "STALE_SENDING_SECONDS",
    "ChargeError",
    "ChargeSettings",
    "ChargeView",
    "UncertainCharge",
    "approve_charge",
    "charge_saved_card",
    "mark_not_charged",
    "record_consent",
    "reject_charge",
    "settle_charge",
    "settle_in_flight",
    "uncertain_charges",
    "view",
]
