"""Sharing a payment link ourselves: WhatsApp / SMS / e-mail texts and deep links, a QR code, and the record.

The gateway only sends invoices by SMS/e-mail in production (contract §5); the shop's usual channel is WhatsApp
from the sales person's own phone, so we build ``wa.me`` links with a prefilled message in the customer's
language and record every share and reminder (audit log + payment timeline).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from urllib.parse import quote

import segno
from sqlalchemy.engine import Engine

from services import audit
from services.db import session_scope
from services.ingest import add_event
from services.models import FINAL_STATUSES, STATUS_WORDS, Payment, PaymentStatus
from services.money import ARABIC_DIGITS, format_money
from services.permissions import Action, Actor, authorize
from services.phones import wa_digits
from services.sentence import phrase, say
from services.timeutil import as_utc, to_kuwait, utcnow

CHANNELS = frozenset({"whatsapp", "sms", "email", "qr", "copy"})


class LinkLike(Protocol):
    """What a message needs from a link (a ``Payment`` row or a ``link_follow.LinkRow``)."""

    @property
    def link_url(self) -> str | None: ...
    @property
    def amount_fils(self) -> int: ...
    @property
    def currency(self) -> str: ...
    @property
    def description(self) -> str | None: ...
    @property
    def customer_name(self) -> str | None: ...
    @property
    def language(self) -> str: ...
    @property
    def expires_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class ShareContext:
    """What a message about one link says."""

    link: str
    amount_fils: int
    currency: str
    description: str | None
    customer_name: str | None
    language: str  # en | ar
    shop_name: str  # already in the message's language
    expires_at: datetime | None  # UTC


@dataclass(frozen=True)
class ShareLinks:
    """Ready-to-open share targets for one message."""

    text: str
    subject: str
    whatsapp: str
    sms: str
    email: str


def context_for(payment: LinkLike, *, shop_name: str, shop_name_ar: str | None = None) -> ShareContext:
    """The share context of a link row (the shop name in the payment page's language)."""
    if not payment.link_url:
        raise ValueError(say("This link has no URL yet, so there is nothing to share."))
    lang = "ar" if payment.language == "ar" else "en"
    return ShareContext(
        link=payment.link_url,
        amount_fils=payment.amount_fils,
        currency=payment.currency,
        description=payment.description,
        customer_name=payment.customer_name,
        language=lang,
        shop_name=(shop_name_ar or shop_name) if lang == "ar" else shop_name,
        expires_at=payment.expires_at,
    )


def _kuwait_stamp(value: datetime, lang: str) -> str:
    """``value`` in Kuwait local time: ``24 Nov 2026, 20:00`` or ``٢٤/١١/٢٠٢٦ الساعة ٢٠:٠٠``."""
    local = to_kuwait(value)
    if lang == "ar":
        return local.strftime("%d/%m/%Y الساعة %H:%M").translate(ARABIC_DIGITS)
    return local.strftime("%d %b %Y, %H:%M")


def _ar_count(n: int, one: str, two: str, few: str, many: str) -> str:
    """Arabic counted noun: 1 ساعة واحدة, 2 ساعتين, 3–10 ساعات, 11+ ساعة (digits in Arabic-Indic)."""
    if n == 1:
        return one
    if n == 2:
        return two
    return f"{str(n).translate(ARABIC_DIGITS)} {few if 3 <= n <= 10 else many}"


# Every phrase of a share message in both languages, (English, Arabic); ``_say`` fills in the ``{fields}``.
_PHRASES: dict[str, tuple[str, str]] = {
    "hello": ("Hello,", "مرحباً،"),
    "hello_named": ("Hello {name},", "مرحباً {name}،"),
    "sent": ("{shop} has sent you a payment link.", "أرسل لكم {shop} رابط دفع."),
    "amount": ("Amount: {amount}", "المبلغ: {amount}"),
    "purpose": ("For: {what}", "مقابل: {what}"),
    "reminder": ("A friendly reminder from {shop}: your payment of {amount}{purpose} is still waiting.",
                 "تذكير من {shop}: دفعتكم بمبلغ {amount}{purpose} ما زالت بانتظار الدفع."),
    "reminder_purpose": (" for {what}", " مقابل {what}"),
    "pay": ("Pay securely here: {link}", "للدفع الآمن: {link}"),
    "valid_until": ("The link is valid until {stamp} (Kuwait time).", "الرابط صالح حتى {stamp} بتوقيت الكويت."),
    "expires_in": ("The link expires in {left} ({stamp} Kuwait time).",
                   "ينتهي الرابط خلال {left} ({stamp} بتوقيت الكويت)."),
    "thanks": ("Thank you.", "شكراً لكم."),
    "subject": ("Payment link from {shop} for {amount}", "رابط دفع من {shop} بمبلغ {amount}"),
    "subject_reminder": ("Reminder: ", "تذكير: "),
    "receipt_paid": ("Thank you for your payment of {amount} to {shop}.", "شكراً لدفعكم {amount} إلى {shop}."),
    "receipt_link": ("Your receipt (to keep or print): {link}", "إيصال الدفع (للحفظ أو الطباعة): {link}"),
    "receipt_subject": ("Your receipt from {shop} for {amount}", "إيصال الدفع من {shop} بمبلغ {amount}"),
    "save_card": ("{shop}: save your card for quicker payments next time. Open this secure UPayments page: {link}",
                  "{shop}: احفظوا بطاقتكم لدفع أسرع في المرة القادمة. افتحوا صفحة UPayments الآمنة هذه: {link}"),
}
# Units of the time left: the English singular, and the Arabic forms for _ar_count (1, 2, 3–10, 11+).
_UNITS: dict[str, tuple[str, tuple[str, str, str, str]]] = {
    "hour": ("hour", ("ساعة واحدة", "ساعتين", "ساعات", "ساعة")),
    "minute": ("minute", ("دقيقة واحدة", "دقيقتين", "دقائق", "دقيقة")),
}


def _say(key: str, lang: str, **fields: str) -> str:
    """Phrase ``key`` in Arabic for ``ar``, otherwise in English, with ``fields`` filled in."""
    return _PHRASES[key][1 if lang == "ar" else 0].format(**fields)


def _count(n: int, unit: str, lang: str) -> str:
    """``5 hours`` / ``٥ ساعات``; shows at least 1 (under a minute left reads ``1 minute``)."""
    singular, arabic = _UNITS[unit]
    shown = max(1, n)
    if lang == "ar":
        return _ar_count(shown, *arabic)
    return f"{shown} {singular}{'s' if shown != 1 else ''}"


def _remaining(expires_at: datetime, now: datetime, lang: str) -> str:
    """Time left until ``expires_at``: whole hours from an hour up, else minutes."""
    minutes = max(0, int((as_utc(expires_at) - now).total_seconds() // 60))
    return _count(minutes // 60, "hour", lang) if minutes >= 60 else _count(minutes, "minute", lang)


def message_text(ctx: ShareContext, *, reminder: bool = False, now: datetime | None = None) -> str:
    """The message to send the customer, in their language (``reminder`` for the follow-up)."""
    now = now or utcnow()
    lang = "ar" if ctx.language == "ar" else "en"
    amount = format_money(ctx.amount_fils, ctx.currency, lang=lang)
    name = (ctx.customer_name or "").strip()
    what = (ctx.description or "").strip()
    lines = [_say("hello_named", lang, name=name) if name else _say("hello", lang)]
    if reminder:
        purpose = _say("reminder_purpose", lang, what=what) if what else ""
        lines.append(_say("reminder", lang, shop=ctx.shop_name, amount=amount, purpose=purpose))
    else:
        lines.append(_say("sent", lang, shop=ctx.shop_name))
        lines.append(_say("amount", lang, amount=amount))
        if what:
            lines.append(_say("purpose", lang, what=what))
    lines.append(_say("pay", lang, link=ctx.link))
    if ctx.expires_at is not None:
        stamp = _kuwait_stamp(ctx.expires_at, lang)
        if reminder:
            lines.append(_say("expires_in", lang, left=_remaining(ctx.expires_at, now, lang), stamp=stamp))
        else:
            lines.append(_say("valid_until", lang, stamp=stamp))
    lines.append(_say("thanks", lang))
    return "\n".join(lines)


def save_card_text(link: str, *, shop_name: str, lang: str) -> str:
    """The add-card invitation (services.customers.cards), in the customer's language like a payment link's."""
    return _say("save_card", "ar" if lang == "ar" else "en", shop=shop_name, link=link)


def email_subject(ctx: ShareContext, *, reminder: bool = False) -> str:
    """Subject line for the e-mail share."""
    amount = format_money(ctx.amount_fils, ctx.currency, lang=ctx.language)
    prefix = _say("subject_reminder", ctx.language) if reminder else ""
    return prefix + _say("subject", ctx.language, shop=ctx.shop_name, amount=amount)


def whatsapp_url(text: str, phone_e164: str | None = None) -> str:
    """``https://wa.me/<digits>?text=…``; without a phone WhatsApp lets the user pick the chat."""
    digits = wa_digits(phone_e164) if phone_e164 else ""
    return f"https://wa.me/{digits}?text={quote(text, safe='')}"


def sms_url(text: str, phone_e164: str | None = None) -> str:
    """``sms:+965…?&body=…`` — the ``?&`` form is read by both iOS and Android messaging apps."""
    return f"sms:{phone_e164 or ''}?&body={quote(text, safe='')}"


def mailto_url(text: str, subject: str, email: str | None = None) -> str:
    """``mailto:`` link with subject and body (RFC 6068 percent-encoding)."""
    return f"mailto:{quote(email or '', safe='@')}?subject={quote(subject, safe='')}&body={quote(text, safe='')}"


def share_links(ctx: ShareContext, *, phone_e164: str | None, email: str | None, reminder: bool = False,
                now: datetime | None = None) -> ShareLinks:
    """The message plus WhatsApp, SMS and e-mail targets for it."""
    text = message_text(ctx, reminder=reminder, now=now)
    subject = email_subject(ctx, reminder=reminder)
    return ShareLinks(text=text, subject=subject, whatsapp=whatsapp_url(text, phone_e164),
                      sms=sms_url(text, phone_e164), email=mailto_url(text, subject, email))


def receipt_links(payment: LinkLike, *, receipt_url: str, shop_name: str, shop_name_ar: str | None = None,
                  phone_e164: str | None = None, email: str | None = None) -> ShareLinks:
    """The receipt message of a paid link (its ``/pay/receipt`` address) in the customer's language, with
    WhatsApp, SMS and e-mail targets; the same channels as the payment link itself."""
    lang = "ar" if payment.language == "ar" else "en"
    shop = (shop_name_ar or shop_name) if lang == "ar" else shop_name
    amount = format_money(payment.amount_fils, payment.currency, lang=lang)
    name = (payment.customer_name or "").strip()
    lines = [_say("hello_named", lang, name=name) if name else _say("hello", lang),
             _say("receipt_paid", lang, amount=amount, shop=shop), _say("receipt_link", lang, link=receipt_url),
             _say("thanks", lang)]
    text = "\n".join(lines)
    subject = _say("receipt_subject", lang, shop=shop, amount=amount)
    return ShareLinks(text=text, subject=subject, whatsapp=whatsapp_url(text, phone_e164),
                      sms=sms_url(text, phone_e164), email=mailto_url(text, subject, email))


def qr_png(link: str, *, scale: int = 8) -> bytes:
    """A QR code of ``link`` as PNG bytes (error correction M, quiet zone 4 modules)."""
    buffer = io.BytesIO()
    segno.make(link, error="m", micro=False).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def record_share(engine: Engine, actor: Actor, *, payment_pk: int, channel: str, reminder: bool = False,
                 receipt: bool = False) -> None:
    """Record that ``actor`` shared (or re-sent as a reminder) a link, or sent a paid link's ``receipt``, over
    ``channel``: timeline + audit."""
    actor = authorize(engine, actor, Action.SHARE_LINK)
    if channel not in CHANNELS:
        raise ValueError(say("Unknown share channel {value}.", value=repr(channel)))
    with session_scope(engine) as session:
        payment = session.get(Payment, payment_pk)
        if payment is None or payment.source != "link":
            raise ValueError(say("This payment link does not exist."))
        if not payment.link_url:
            raise ValueError(say("This link was not created at the gateway, so it cannot be shared."))
        if reminder and payment.status in FINAL_STATUSES:
            raise ValueError(say("This link is already {status}; no reminder is needed.",
                                 status=phrase(STATUS_WORDS.get(payment.status, payment.status))))
        if receipt and payment.status != PaymentStatus.PAID:
            raise ValueError(say("This link is {status}, not paid, so it has no receipt to send.",
                                 status=phrase(STATUS_WORDS.get(payment.status, payment.status))))
        kind = "receipt_sent" if receipt else "reminded" if reminder else "shared"
        add_event(session, payment_pk, kind, {"channel": channel}, actor.email)
        audit.record(session, actor=actor.email, action=f"link_{kind}", target=payment.order_id,
                     after={"channel": channel})
