"""Who a customer is: the normalised mobile number (E.164), else ``email:`` + the lower-case e-mail; and the
customer unique token the gateway's saved cards hang on, derived from that key.

The token is derived, never stored: the same customer always gets the same number, on every server, after a
restore, without a table to keep in step. It is 12 digits from SHA-256 of the key, first digit 1–9 (a leading 0
broke older gateway plugins, §18; the contract wants 8–18 digits, §8.1). 9×10¹¹ values: two customers of one
shop sharing a token is about as likely as two of a million customers doing so ≈ 5×10⁻⁷.
"""

from __future__ import annotations

import hashlib
import re

from services.phones import InvalidPhone, normalize_phone
from services.sentence import say, sentence_of

EMAIL_PREFIX = "email:"
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{1,63}$")
#: Largest key we accept (matches CustomerSummary.key).
MAX_KEY = 270


class UnknownCustomer(ValueError):
    """The text does not name a customer (neither a mobile number nor an e-mail address)."""


def customer_key(phone: str | None, email: str | None) -> str | None:
    """The key of the customer with this (already normalised) phone and e-mail; None when there is neither."""
    if phone:
        return phone
    if email and email.strip():
        return EMAIL_PREFIX + email.strip().lower()
    return None


def parse_key(text: object) -> str:
    """A key from a URL or form (``+96550001234``, ``email:sara@example.com``), checked; UnknownCustomer if not."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_KEY:
        raise UnknownCustomer(say("That is not a customer: give a mobile number or an e-mail address."))
    value = text.strip()
    if value.lower().startswith(EMAIL_PREFIX):
        email = value[len(EMAIL_PREFIX):].strip().lower()
        if not _EMAIL.match(email):
            raise UnknownCustomer(say("That is not a customer's e-mail address."))
        return EMAIL_PREFIX + email
    if _E164.match(value):
        return value  # a key as stored (E.164), even for numbers newer than the phone library's tables
    try:
        return normalize_phone(value)
    except InvalidPhone as exc:
        raise UnknownCustomer(sentence_of(exc)) from None


def phone_of(key: str) -> str | None:
    return None if key.startswith(EMAIL_PREFIX) else key


def email_of(key: str) -> str | None:
    return key[len(EMAIL_PREFIX):] if key.startswith(EMAIL_PREFIX) else None


def unique_token(key: str) -> str:
    """The customer unique token for ``key``: 12 digits, deterministic, never a leading zero."""
    if not isinstance(key, str) or not key:
        raise UnknownCustomer(say("A customer key is needed for a saved-card token."))
    digest = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big")
    return str(10**11 + digest % (9 * 10**11))
