"""Phone numbers as people type them (``+965 5xxx xxxx``, ``00965…``, ``965…``, Arabic-Indic digits) → E.164."""

from __future__ import annotations

import re

import phonenumbers

from services.inputs import shown
from services.money import ASCII_DIGITS
from services.sentence import say

# Arabic-Indic (U+0660…) and Eastern Arabic-Indic/Persian (U+06F0…) digits, common on Kuwaiti keyboards.
# Bidi marks and invisible spaces that come along when a number is copied out of WhatsApp or an RTL page.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\u00a0\u2007\u202f\ufeff]")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


class InvalidPhone(ValueError):
    """Text that is not a valid phone number."""


def normalize_phone(text: str, region: str = "KW") -> str:
    """A phone number in any common format → E.164 (``+96550000000``); numbers without a country code are
    read as ``region`` numbers. Raises :class:`InvalidPhone` with a sentence for the person who typed it."""
    if not isinstance(text, str):
        raise InvalidPhone(say("Enter a phone number."))
    if not isinstance(region, str) or not region.isascii() or len(region) != 2:
        raise InvalidPhone(say("{value} is not a country code such as KW.", value=shown(region)))
    cleaned = _INVISIBLE.sub(" ", text.translate(ASCII_DIGITS)).strip()
    if not cleaned:
        raise InvalidPhone(say("Enter a phone number."))
    if re.search(r"[^\d\s+()./\-]", cleaned):
        raise InvalidPhone(say("{value} is not a phone number: use digits only, e.g. +965 5000 0000.",
                               value=shown(text.strip())))
    try:
        number = phonenumbers.parse(cleaned, region.upper())
    except phonenumbers.NumberParseException:
        raise InvalidPhone(say("{value} is not a phone number, e.g. +965 5000 0000.",
                               value=shown(text.strip()))) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(say("{value} is not a valid phone number: a Kuwaiti number is +965 and 8 digits, "
                               "e.g. +965 5000 0000.", value=shown(text.strip())))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def wa_digits(e164: str) -> str:
    """The digits WhatsApp's ``wa.me/<digits>`` links want: E.164 without the ``+``."""
    if not _E164.match(e164 or ""):
        raise InvalidPhone(say("{value} is not an E.164 number such as +96550000000.", value=shown(e164)))
    return e164[1:]
