"""Shared formatting for pages: money, Kuwait time, status labels, in the staff member's language (no Streamlit).

English output is unchanged (``12.500 KWD``, ``2026-11-24 18:05``). Arabic uses Babel's ``ar_KW`` data: the
currency's own 3 decimals and symbol (``12.500 د.ك.``), Arabic month and weekday names, and the person's digits,
Western (0123) or Arabic-Indic (٠١٢٣). Babel's bidi marks are dropped: where a value sits inside a sentence the
page isolates it (``safe.md_iso``), which is what keeps it in one piece.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, format_percent

from dashboard.i18n import N_, _, current, digits, ngettext
from services.money import Amount, exponent, format_amount, format_money
from services.refund_state import LABELS as REFUND_LABELS
from services.refund_state import REFUND_STATE_LABELS as REFUND_STATE_LABELS
from services.refund_state import status_word
from services.sentence import Count
from services.timeutil import to_kuwait, utcnow

STATUS_LABELS = {
    "pending": N_("Awaiting payment"),
    "paid": N_("Paid"),
    "failed": N_("Failed"),
    "cancelled": N_("Cancelled"),
    "expired": N_("Expired"),
    **REFUND_LABELS,
}
METHOD_LABELS = {
    "knet": "KNET",
    "card": N_("Card"),
    "amex": "Amex",
    "apple_pay": "Apple Pay",
    "apple_pay_knet": N_("Apple Pay (KNET)"),
    "google_pay": "Google Pay",
    "samsung_pay": "Samsung Pay",
}
_MARKS = str.maketrans("", "", "\u200e\u200f\u061c")
_ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def localise_digits(text: str) -> str:
    """Western digits → Arabic-Indic when the person chose them (Arabic only); anything else unchanged."""
    return text.translate(_ARABIC_INDIC) if digits() == "arab" else text


def money(minor: int | None, currency: str = "KWD") -> str:
    """``12500`` → ``"12.500 KWD"`` (English) or ``"12.500 د.ك."`` (Arabic); None → an em dash."""
    if minor is None:
        return "—"
    if current() != "ar":
        return format_money(minor, currency)
    value = Decimal(minor).scaleb(-exponent(currency))
    text = format_currency(value, currency, locale="ar_KW", numbering_system=digits())  # separators ٫ ٬
    return localise_digits(text.translate(_MARKS).replace("\xa0", " "))  # Babel keeps 0-9: we map them


def amount(minor: int, currency: str = "KWD", *, grouping: bool = False) -> str:
    """A bare amount, the currency said elsewhere (a column "Amounts in KWD"): ``1,234.500`` / ``1٬234٫500``."""
    if current() != "ar":
        return str(format_amount(minor, currency, grouping=grouping))
    exp = exponent(currency)
    pattern = ("#,##0" if grouping else "0") + ("." + "0" * exp if exp else "")
    text = format_decimal(Decimal(minor).scaleb(-exp), format=pattern, locale="ar_KW", numbering_system=digits())
    return localise_digits(text.translate(_MARKS))


def localise(value: object) -> object:
    """A value the dashboard formats, in the reader's locale and digits: an ``Amount`` (``format_amount`` /
    ``format_money``), a ``Count``, a ``Decimal``, a date or a time. Anything else — ids, order ids, track ids,
    phones, URLs, plain ints — is returned unchanged, so it keeps its Western digits; English is unchanged."""
    if current() != "ar" or isinstance(value, bool):
        return value
    if isinstance(value, Amount):
        return money(value.minor, value.currency) if value.with_currency else \
            amount(value.minor, value.currency, grouping=value.grouping)
    if isinstance(value, Count | Decimal):
        return number(value)
    if isinstance(value, datetime):
        return kuwait_time(value)
    if isinstance(value, date):
        return short_day(value, year=True)
    return value


def number(value: int | float | Decimal) -> str:
    """A count or ratio with the locale's grouping: ``1,234`` / ``1٬234``."""
    if current() != "ar":
        return f"{value:,}"
    return localise_digits(format_decimal(value, locale="ar_KW", numbering_system=digits()).translate(_MARKS))


def percent(value: float | None, places: int = 1) -> str:
    """A ratio as a percentage: ``0.667`` → ``66.7%`` / ``٦٦٫٧٪``; None → an em dash."""
    if value is None:
        return "—"
    if current() != "ar":
        return f"{value:.{places}%}"
    pattern = "#,##0" + ("." + "0" * places if places else "") + "%"
    text = format_percent(value, pattern, locale="ar_KW", numbering_system=digits()).translate(_MARKS)
    return localise_digits(text.replace("%", "٪") if digits() == "arab" else text)


def decimal_text(value: int | float | Decimal, places: int) -> str:
    """A number with ``places`` decimals and grouping (chart ticks): ``1,234.500`` / ``1٬234٫500``."""
    if current() != "ar":
        return f"{value:,.{places}f}"
    pattern = "#,##0" + ("." + "0" * places if places else "")
    return localise_digits(format_decimal(value, pattern, locale="ar_KW", numbering_system=digits())
                           .translate(_MARKS))


def kuwait_time(value: datetime | None, *, seconds: bool = False) -> str:
    """An instant in Kuwait local time: ``2026-11-24 18:05``; in Arabic ``24 نوفمبر 2026، 18:05``."""
    if value is None:
        return "—"
    local = to_kuwait(value)
    if current() != "ar":
        return local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    text = format_datetime(local, "d MMMM y، HH:mm:ss" if seconds else "d MMMM y، HH:mm", locale="ar_KW")
    return localise_digits(text.translate(_MARKS))


def kuwait_day(value: datetime | None) -> str:
    """A day with its weekday name: ``Tuesday 24 November 2026`` / ``الثلاثاء 24 نوفمبر 2026``."""
    if value is None:
        return "—"
    local = to_kuwait(value)
    if current() != "ar":
        return local.strftime("%A %-d %B %Y")
    return localise_digits(format_datetime(local, "EEEE d MMMM y", locale="ar_KW").translate(_MARKS))


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """A short relative time: ``just now``, ``3 min ago``, ``2 h ago``, ``5 days ago`` (translated)."""
    if value is None:
        return _("never")
    seconds = int(((now or utcnow()) - value).total_seconds())
    if seconds < 45:
        return _("just now")
    if seconds < 3600:
        n = max(1, round(seconds / 60))
        return localise_digits(ngettext("{n} min ago", "{n} min ago", n).format(n=n))
    if seconds < 86400:
        n = seconds // 3600
        return localise_digits(ngettext("{n} h ago", "{n} h ago", n).format(n=n))
    n = seconds // 86400
    return localise_digits(ngettext("{n} day ago", "{n} days ago", n).format(n=n))


def status_label(status: str | None) -> str:
    known = STATUS_LABELS.get(status or "")
    return _(known) if known else (status or "—")


def payment_status_label(status: str, refund_state: str | None, pending_fils: int = 0,
                         currency: str = "KWD") -> str:
    """``Partially refunded`` / ``Refunded`` for refunded paid payments (services.refund_state), with refunds still
    pending beside: ``Paid · 5.000 KWD refund pending``."""
    label = status_label(status_word(status, refund_state))
    if pending_fils <= 0:
        return label
    return _("{status} · {amount} refund pending").format(status=label, amount=money(pending_fils, currency))


def method_label(method: str | None) -> str:
    known = METHOD_LABELS.get(method or "")
    return _(known) if known else (method or "—")


def short_day(value: date, *, year: bool = False) -> str:
    """A calendar day in a sentence or cell: ``Tue 24 Nov`` (``Tue 24 Nov 2026``) / ``الثلاثاء 24 نوفمبر``."""
    if current() != "ar":
        return value.strftime("%a %d %b %Y" if year else "%a %d %b")
    text = format_date(value, "EEEE d MMMM y" if year else "EEEE d MMMM", locale="ar_KW")
    return localise_digits(text.translate(_MARKS))


def month_name(value: date) -> str:
    """``November 2026`` / ``نوفمبر 2026``."""
    if current() != "ar":
        return value.strftime("%B %Y")
    return localise_digits(format_date(value, "MMMM y", locale="ar_KW").translate(_MARKS))
