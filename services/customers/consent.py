"""The customer's agreement to be charged without being present (who agreed, when, how, who wrote it down).

No auto-deduct without a consent on record for that card; removing the card revokes it (:mod:`.cards`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services import audit, inputs
from services.customer_keys import parse_key
from services.db import session_scope
from services.models import CustomerConsent
from services.permissions import Action, Actor, authorize
from services.privacy import mask_key
from services.sentence import N_, listing, say
from services.timeutil import as_utc, utcnow

from .charge_rows import ChargeError

CONSENT_CHANNELS = {"whatsapp": N_("WhatsApp message"), "phone": N_("Phone call"), "in_person": N_("In person"),
                    "written": N_("Signed form")}


def record_consent(engine: Engine, actor: Actor, *, key: str, card_token: str, agreed_by: str,
                   agreed_at: datetime, channel: str, note: str = "") -> CustomerConsent:
    """Write down the customer's agreement to be charged without being present, for one saved card."""
    actor = authorize(engine, actor, Action.CHARGE_CARD)
    key = parse_key(key)
    who = inputs.text(agreed_by, ChargeError, N_("name of the person who agreed"), max_len=255)
    if not who:
        raise ChargeError(say("Write who agreed (the customer's name)."))
    if channel not in CONSENT_CHANNELS:
        raise ChargeError(say("Say how they agreed: {choices}.", choices=listing(CONSENT_CHANNELS.values())))
    if not isinstance(agreed_at, datetime) or agreed_at.tzinfo is None or as_utc(agreed_at) > utcnow():
        raise ChargeError(say("When they agreed must be a date and time in the past."))
    if not isinstance(card_token, str) or not (card_token.isascii() and card_token.isdigit()) or len(card_token) > 64:
        raise ChargeError(say("Pick one of the customer's saved cards."))
    text = inputs.text(note, ChargeError, N_("note"), max_len=500, multiline=True)
    consent = CustomerConsent(customer_key=key, card_token=card_token, agreed_by=who, agreed_at=as_utc(agreed_at),
                              channel=channel, note=text or None, recorded_by=actor.email)
    with session_scope(engine) as session:
        session.add(consent)
        audit.record(session, actor=actor.email, action="card_consent_recorded", target=mask_key(key),
                     after={"agreed_by": who, "agreed_at": as_utc(agreed_at).isoformat(), "channel": channel,
                            "card": "…" + card_token[-4:]})
        session.flush()
        session.expunge(consent)
    return consent


def has_consent(engine: Engine, key: str, card_token: str) -> bool:
    """Whether an unrevoked consent for this customer and card is on record."""
    with Session(engine) as session:
        return session.exec(select(CustomerConsent.id).where(
            col(CustomerConsent.customer_key) == key, col(CustomerConsent.card_token) == card_token,
            col(CustomerConsent.revoked_at).is_(None))).first() is not None
