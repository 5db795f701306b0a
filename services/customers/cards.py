"""A customer's saved cards at the gateway: ask them to save one, list, remove (§8, §18).

The cards live at UPayments, under the customer unique token derived from the customer's key
(:func:`identity.unique_token`); we keep no copy. Only what retrieve-customer-cards gives is shown — brand, masked
number, scheme — never a full card number (the client refuses a list whose numbers are not masked). KNET saved
cards (KFAST) are kept by KNET itself and are not reachable through these calls (nor in the UPayments sandbox).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from services import audit
from services.customer_keys import parse_key, phone_of, unique_token
from services.db import session_scope
from services.gateway import SavedCard, errors
from services.links import share
from services.models import CustomerConsent
from services.permissions import Action, Actor, authorize
from services.privacy import mask_key
from services.sentence import N_, Sentence, phrase, say
from services.timeutil import utcnow

log = logging.getLogger(__name__)

KFAST_NOTE = N_("KNET saved cards (KFAST) are kept by KNET itself: customers save them on the KNET page, and the "
                "UPayments sandbox does not offer them, so only credit cards appear here.")


class CardError(ValueError):
    """A saved-card action that cannot be done; the message is one sentence for the page."""


@dataclass(frozen=True)
class CardView:
    """A saved card as staff see it: brand, masked number, scheme; the token only to act on it."""

    token: str
    brand: str
    number: str  # masked, e.g. 512345xxxxxx0008
    scheme: str
    consented: bool  # an auto-deduct consent is on record for this card

    @property
    def label(self) -> str:
        return f"{self.brand} •••• {self.number[-4:]}"


@dataclass(frozen=True)
class AddCardInvite:
    """The add-card link and the ways to send it (same channels as a payment link)."""

    link: str
    text: str
    whatsapp: str
    sms: str
    qr_png: bytes


def ensure_token(client: Any, key: str) -> str:
    """The customer's unique token, registered at the gateway (create-customer-unique-token).

    A failure is not fatal (§18: every plugin goes on; the token usually exists already): it is logged and the
    next call (add-card, a charge) says whether the token is usable.
    """
    token = unique_token(key)
    try:
        client.cards.register(customer_token=token)
    except errors.GatewayError as exc:
        log.warning("create-customer-unique-token for %s failed (non-fatal): %s", mask_key(key), exc)
    return token


def _gateway_sentence(exc: errors.GatewayError, what: str) -> Sentence:
    """``what`` is a phrase marked with ``N_`` ("make the add-card link"), translated where shown."""
    if isinstance(exc, errors.ValidationFailed):
        return say("The gateway refused to {what}: {reason}.", what=phrase(what), reason=exc.message.rstrip("."))
    return say("Could not {what}: UPayments did not answer ({error}); try again in a minute.", what=phrase(what),
               error=type(exc).__name__)


def ask_to_save_card(engine: Engine, client: Any, actor: Actor, *, key: str, return_url: str,
                     shop_name: str, shop_name_ar: str | None = None, language: str = "en") -> AddCardInvite:
    """Make the hosted add-card link for this customer and the WhatsApp/SMS/QR ways to send it (audited); the
    message is in ``language`` (``en`` / ``ar``, the customer's, as for a payment link), with the shop's name in
    that language."""
    actor = authorize(engine, actor, Action.ASK_SAVE_CARD)
    key = parse_key(key)
    token = ensure_token(client, key)
    try:
        link = client.cards.add_card_link(customer_token=token, return_url=return_url)
    except errors.GatewayError as exc:
        raise CardError(_gateway_sentence(exc, N_("make the add-card link"))) from None
    lang = "ar" if language == "ar" else "en"
    text = share.save_card_text(link, shop_name=(shop_name_ar or shop_name) if lang == "ar" else shop_name,
                                lang=lang)
    phone = phone_of(key)
    with session_scope(engine) as session:
        audit.record(session, actor=actor.email, action="card_save_requested", target=mask_key(key))
    return AddCardInvite(link=link, text=text, whatsapp=share.whatsapp_url(text, phone),
                         sms=share.sms_url(text, phone), qr_png=share.qr_png(link))


def _consented(engine: Engine, key: str) -> set[str]:
    with session_scope(engine) as session:
        rows = session.exec(select(CustomerConsent.card_token).where(
            col(CustomerConsent.customer_key) == key, col(CustomerConsent.revoked_at).is_(None))).all()
    return set(rows)


def _fetch(client: Any, key: str) -> list[SavedCard]:
    try:
        cards: list[SavedCard] = client.cards.list(customer_token=unique_token(key))
    except errors.ValidationFailed:
        return []  # the token was never registered: no cards
    except errors.GatewayError as exc:
        raise CardError(_gateway_sentence(exc, N_("list the saved cards"))) from None
    return cards


def list_cards(engine: Engine, client: Any, actor: Actor, *, key: str) -> list[CardView]:
    """The customer's saved cards from retrieve-customer-cards (masked numbers only)."""
    actor = authorize(engine, actor, Action.VIEW_CARDS)
    key = parse_key(key)
    consented = _consented(engine, key)
    return [CardView(token=c.token, brand=c.brand or "CARD", number=c.number, scheme=c.scheme or "",
                     consented=c.token in consented) for c in _fetch(client, key)]


def card_of(client: Any, key: str, card_token: str) -> SavedCard:
    """The customer's saved card with this token, or CardError (removed, or someone else's)."""
    for card in _fetch(client, key):
        if card.token == card_token:
            return card
    raise CardError(say("This card is no longer saved for this customer (it may have been removed); refresh the page."))


def remove_card(engine: Engine, client: Any, actor: Actor, *, key: str, card_token: str) -> None:
    """Remove a saved card at the gateway (remove-card); its consents are revoked; audited."""
    actor = authorize(engine, actor, Action.REMOVE_CARD)
    key = parse_key(key)
    card = card_of(client, key, card_token)
    try:
        client.cards.remove(card_token=card.token)
    except errors.GatewayError as exc:
        raise CardError(_gateway_sentence(exc, N_("remove the card"))) from None
    now = utcnow()
    with session_scope(engine) as session:
        for consent in session.exec(select(CustomerConsent).where(
                col(CustomerConsent.customer_key) == key, col(CustomerConsent.card_token) == card.token,
                col(CustomerConsent.revoked_at).is_(None))).all():
            consent.revoked_at = now
            session.add(consent)
        audit.record(session, actor=actor.email, action="card_removed", target=mask_key(key),
                     before={"card": f"{card.brand} {card.number}"})
