"""Money: integer minor units inside, ``Decimal`` only at the edges, never ``float``.

KWD, BHD and OMR have 3 decimals (1 KWD = 1000 fils); the other currencies UPayments enables have 2.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from services.inputs import shown
from services.sentence import Count, say

#: Decimal places per ISO-4217 currency that the gateway enables (contract §11.1).
EXPONENTS: dict[str, int] = {
    "KWD": 3,
    "BHD": 3,
    "OMR": 3,
    "SAR": 2,
    "USD": 2,
    "EUR": 2,
    "QAR": 2,
    "AED": 2,
}

#: Largest amount we accept for one payment or refund, in major units (gateway field is number(22)).
MAX_MAJOR_UNITS = Decimal("1000000")

#: Arabic-Indic and Persian digits to ASCII (``str.translate`` table), for amounts, phones and search words.
ASCII_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
#: ASCII digits to Arabic-Indic, for Arabic text.
ARABIC_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
_ARABIC_SEPARATORS = str.maketrans({"٫": ".", "٬": ",", "،": ","})
_PLAIN_NUMBER = re.compile(r"^\d+(\.\d*)?$|^\.\d+$")
# Commas only as thousands separators: "1,234.5" yes; "12,5" (a decimal comma) is refused, never read as 125.
_GROUPED = re.compile(r"^\d{1,3}(,\d{3})+(\.\d*)?$")
_SYMBOLS_AR = {"KWD": "د.ك", "BHD": "د.ب", "OMR": "ر.ع", "SAR": "ر.س", "QAR": "ر.ق", "AED": "د.إ"}


class InvalidAmount(ValueError):
    """User or gateway input that is not a valid amount for the currency."""


def exponent(currency: str) -> int:
    """Decimal places of ``currency``; unknown currencies are refused rather than guessed."""
    if not isinstance(currency, str):
        raise InvalidAmount(say("The currency must be a currency code such as KWD."))
    try:
        return EXPONENTS[currency.upper()]
    except KeyError:
        raise InvalidAmount(say("Currency {value} is not supported.", value=shown(currency))) from None


def parse_amount(text: str | Decimal | int, currency: str = "KWD", *, allow_zero: bool = False) -> int:
    """Parse a major-unit amount ("12.5", "١٢٫٥٠٠", Decimal("12.500")) into minor units.

    More decimals than the currency has are refused, never rounded.
    """
    exp = exponent(currency)
    if isinstance(text, bool):
        raise InvalidAmount(say("Amount must be a number."))
    if isinstance(text, int):
        value = Decimal(text)
    elif isinstance(text, Decimal):
        value = text
    elif isinstance(text, str):
        cleaned = text.strip().translate(ASCII_DIGITS).translate(_ARABIC_SEPARATORS)
        cleaned = cleaned.replace(" ", "").replace("\u00a0", "")
        for suffix in (currency.upper(), currency.lower(), _SYMBOLS_AR.get(currency.upper(), "\x00")):
            cleaned = cleaned.removesuffix(suffix).removeprefix(suffix)
        if "," in cleaned:
            if not _GROUPED.match(cleaned):
                raise InvalidAmount(say("{value} is not an amount: use a point for decimals, e.g. 12.500.",
                                          value=shown(text)))
            cleaned = cleaned.replace(",", "")
        if not cleaned:
            raise InvalidAmount(say("Enter an amount."))
        if not _PLAIN_NUMBER.match(cleaned):
            raise InvalidAmount(say("{value} is not an amount: use digits and one decimal point, e.g. 12.500.",
                                      value=shown(text)))
        try:
            value = Decimal(cleaned)
        except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
            raise InvalidAmount(say("{value} is not an amount.", value=shown(text))) from None
    else:
        raise InvalidAmount(say("Amount must be text, an integer or a Decimal (never a float)."))
    if not value.is_finite():
        raise InvalidAmount(say("Amount must be a finite number."))
    if value < 0:
        raise InvalidAmount(say("Amount cannot be negative."))
    if value > MAX_MAJOR_UNITS:
        raise InvalidAmount(say("Amount is above the limit of {limit}.",
                                  limit=format_money(int(MAX_MAJOR_UNITS.scaleb(exp)), currency)))
    if value != value.quantize(Decimal(1).scaleb(-exp)):  # trailing zeros ("12.5000") are fine
        raise InvalidAmount(say("{currency} amounts have at most {decimals} decimals.", currency=currency.upper(),
                                  decimals=Count(exp)))
    minor = int(value.scaleb(exp))
    if minor == 0 and not allow_zero:
        raise InvalidAmount(say("Amount must be greater than zero."))
    return minor


def to_decimal(minor: int, currency: str = "KWD") -> Decimal:
    """Minor units as a ``Decimal`` with exactly the currency's decimals (for the wire)."""
    exp = exponent(currency)
    return (Decimal(minor).scaleb(-exp)).quantize(Decimal(1).scaleb(-exp))


class Amount(str):
    """An amount formatted in English (``"12.500"``, ``"12.500 KWD"``) that remembers its value, so the dashboard
    can show it in the reader's locale and digits (a table cell, a value in a service's sentence)."""

    minor: int
    currency: str
    with_currency: bool
    grouping: bool

    def __new__(cls, text: str, minor: int, currency: str, *, with_currency: bool, grouping: bool) -> Amount:
        obj = super().__new__(cls, text)
        obj.minor, obj.currency, obj.with_currency, obj.grouping = minor, currency.upper(), with_currency, grouping
        return obj

    def __getnewargs_ex__(self) -> tuple[tuple[str, int, str], dict[str, bool]]:  # copy, deepcopy, pickle
        return (str(self), self.minor, self.currency), {"with_currency": self.with_currency, "grouping": self.grouping}


def format_amount(minor: int, currency: str = "KWD", *, grouping: bool = False) -> Amount:
    """``12500`` fils → ``"12.500"`` (``grouping`` adds thousands separators: ``"1,234.500"``)."""
    value = to_decimal(minor, currency)
    return Amount(f"{value:,}" if grouping else f"{value}", minor, currency, with_currency=False, grouping=grouping)


def format_money(minor: int, currency: str = "KWD", *, lang: str = "en") -> str:
    """Amount with currency for people: ``12.500 KWD`` (an :class:`Amount`) or, in Arabic, ``١٢٫٥٠٠ د.ك``."""
    text = format_amount(minor, currency, grouping=True)
    if lang == "ar":
        digits = text.translate(ARABIC_DIGITS)
        digits = digits.replace(",", "٬").replace(".", "٫")
        return f"{digits} {_SYMBOLS_AR.get(currency.upper(), currency.upper())}"
    return Amount(f"{text} {currency.upper()}", minor, currency, with_currency=True, grouping=True)


def parse_gateway_amount(value: str | int | Decimal | None, currency: str = "KWD") -> int | None:
    """Parse an amount the gateway sent (``"10.000"``; sometimes a number) into minor units.

    The gateway may send fewer decimals than the currency has ("10", "2.5"); more is an error.
    """
    if value is None or value == "":
        return None
    if isinstance(value, float):
        # JSON numbers arrive as float only if someone parsed without Decimal; go through repr to stay exact.
        value = Decimal(repr(value))
    return parse_amount(value if not isinstance(value, str) else value.strip(), currency, allow_zero=True)
