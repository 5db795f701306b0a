"""Customers and their saved cards: the facade pages import.

Owns: who a customer is (normalised mobile, else e-mail: ``identity``), what each role may see of their contact
data (``privacy`` — the one masking module, used by search, links, refunds and exports too), the customers list,
search box and one customer's page (``queries``, over the trigger-kept ``customer_summary``), saved cards at the
gateway — ask to save, list, remove (``cards``) — and charging a saved card exactly once, with consent and
approval, a lost answer settled by a person and a look-up (``charges`` and its parts), or with the customer
present through a payment link offering their cards (``present``).
"""

from __future__ import annotations

from services.customer_keys import UnknownCustomer, customer_key, parse_key, unique_token
from services.privacy import mask_email, mask_key, mask_phone, may_reveal, reveal, shield, shield_all

from .cards import KFAST_NOTE, AddCardInvite, CardError, CardView, ask_to_save_card, list_cards, remove_card
from .charges import (
    CONSENT_CHANNELS,
    ChargeError,
    ChargeView,
    UncertainCharge,
    approve_charge,
    charge_saved_card,
    mark_not_charged,
    record_consent,
    reject_charge,
    settle_charge,
    settle_in_flight,
    uncertain_charges,
    view,
)
from .present import link_with_saved_cards
from .queries import (
    SORTS,
    CustomerList,
    CustomerProfile,
    CustomerQueryError,
    CustomerRow,
    customer_profile,
    find_customers,
    key_of_payment,
    list_customers,
)

__all__ = [
    "CONSENT_CHANNELS",
    "KFAST_NOTE",
    "SORTS",
    "AddCardInvite",
    "CardError",
    "CardView",
    "ChargeError",
    "ChargeView",
    "CustomerList",
    "CustomerProfile",
    "CustomerQueryError",
    "CustomerRow",
    "UncertainCharge",
    "UnknownCustomer",
    "approve_charge",
    "ask_to_save_card",
    "charge_saved_card",
    "customer_key",
    "customer_profile",
    "find_customers",
    "key_of_payment",
    "link_with_saved_cards",
    "list_cards",
    "list_customers",
    "mark_not_charged",
    "mask_email",
    "mask_key",
    "mask_phone",
    "may_reveal",
    "parse_key",
    "record_consent",
    "reject_charge",
    "remove_card",
    "reveal",
    "settle_charge",
    "settle_in_flight",
    "shield",
    "shield_all",
    "uncertain_charges",
    "unique_token",
    "view",
]
