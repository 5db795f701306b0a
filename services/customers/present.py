"""Charging a saved card with the customer present: a payment link whose hosted page offers their saved cards.

The link is an ordinary payment link (services.links: intent first, exactly once per idempotency key) sent with
``tokens.customerUniqueToken`` and ``isSaveCard`` (§18): the customer picks a saved card, or pays with a new one
and may save it. Who may do it is the CHARGE_CARD permission (the link itself also needs CREATE_LINK).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy.engine import Engine

from services.customer_keys import customer_key, parse_key, unique_token
from services.links import LinkOutcome, LinkRequest, LinkSettings, create_link
from services.permissions import Action, Actor, authorize

from .cards import ensure_token


def link_with_saved_cards(engine: Engine, client: Any, actor: Actor, *, key: str, request: LinkRequest,
                          settings_like: LinkSettings) -> LinkOutcome:
    """A payment link for this customer that offers their saved cards (and to save a new one)."""
    authorize(engine, actor, Action.CHARGE_CARD)
    key = parse_key(key)
    phone = key if not key.startswith("email:") else ""
    request = dataclasses.replace(request, customer_phone=request.customer_phone or phone,
                                  saved_cards_token=unique_token(key))
    if customer_key(phone or None, request.customer_email or None) is None:
        request = dataclasses.replace(request, customer_email=key.removeprefix("email:"))
    ensure_token(client, key)
    return create_link(engine, client, actor, request=request, settings_like=settings_like)
