"""Sharing a payment link ourselves: WhatsApp / SMS / e-mail texts and deep links, a QR code, and the record.

The gateway only sends invoices by SMS/e-mail in production (contract §5); the shop's usual channel is WhatsApp
from the sales person's own phone, so we build ``wa.me`` links with a prefilled message in the customer's
language and record every share and reminder (audit log + payment timeline).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from urllib.parse import quote

import segno
from sqlalchemy.engine import Engine

from services import audit
from services.db import session_scope
from services.models import FINAL_STATUSES, Payment, PaymentEvent
from services.money import format_money
from services.permissions import Action, Actor, require
from services.phones import wa_digits
from services.timeutil import as_utc, to_kuwait, utcnow

CHANNELS = frozenset({"whatsapp", "sms", "email", "qr", "copy"})
_AR_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


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
        raise ValueError("This link has no URL yet, so there is nothing to share.")
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
    local = to_kuwait(value)
    if lang == "ar":
        return local.strftime("%d/%m/%Y الساعة %H:%M").translate(_AR_DIGITS)
    return local.strftime("%d %b %Y, %H:%M")


def _ar_count(n: int, one: str, two: str, few: str, many: str) -> str:
    """Arabic counted noun: 1 ساعة واحدة, 2 ساعتين, 3–10 ساعات, 11+ ساعة (digits in Arabic-Indic)."""
    if n == 1:
        return one
    if n == 2:
        return two
    return f"{str(n).translate(_AR_DIGITS)} {few if 3 <= n <= 10 else many}"


def _remaining(expires_at: datetime, now: datetime, lang: str) -> str:
    minutes = max(0, int((as_utc(expires_at) - now).total_seconds() // 60))
    if minutes >= 60:
        hours = minutes // 60
        if lang == "ar":
            return _ar_count(hours, "ساعة واحدة", "ساعتين", "ساعات", "ساعة")
        return f"{hours} hour{'s' if hours != 1 else ''}"
    if lang == "ar":
        return _ar_count(max(1, minutes), "دقيقة واحدة", "دقيقتين", "دقائق", "دقيقة")
    return f"{max(1, minutes)} minute{'s' if minutes != 1 else ''}"


def message_text(ctx: ShareContext, *, reminder: bool = False, now: datetime | None = None) -> str:
    """The message to send the customer, in their language (``reminder`` for the follow-up)."""
    now = now or utcnow()
    ar = ctx.language == "ar"
    amount = format_money(ctx.amount_fils, ctx.currency, lang="ar" if ar else "en")
    name = (ctx.customer_name or "").strip()
    what = (ctx.description or "").strip()
    lines: list[str] = []
    if ar:
        lines.append(f"مرحباً {name}،" if name else "مرحباً،")
        if reminder:
            lines.append(f"تذكير من {ctx.shop_name}: دفعتكم بمبلغ {amount}"
                         + (f" مقابل {what}" if what else "") + " ما زالت بانتظار الدفع.")
        else:
            lines.append(f"أرسل لكم {ctx.shop_name} رابط دفع.")
            lines.append(f"المبلغ: {amount}")
            if what:
                lines.append(f"مقابل: {what}")
        lines.append(f"للدفع الآمن: {ctx.link}")
        if ctx.expires_at is not None:
            stamp = _kuwait_stamp(ctx.expires_at, "ar")
            if reminder:
                lines.append(f"ينتهي الرابط خلال {_remaining(ctx.expires_at, now, 'ar')} ({stamp} بتوقيت الكويت).")
            else:
                lines.append(f"الرابط صالح حتى {stamp} بتوقيت الكويت.")
        lines.append("شكراً لكم.")
    else:
        lines.append(f"Hello {name}," if name else "Hello,")
        if reminder:
            lines.append(f"A friendly reminder from {ctx.shop_name}: your payment of {amount}"
                         + (f" for {what}" if what else "") + " is still waiting.")
        else:
            lines.append(f"{ctx.shop_name} has sent you a payment link.")
            lines.append(f"Amount: {amount}")
            if what:
                lines.append(f"For: {what}")
        lines.append(f"Pay securely here: {ctx.link}")
        if ctx.expires_at is not None:
            stamp = _kuwait_stamp(ctx.expires_at, "en")
            if reminder:
                lines.append(f"The link expires in {_remaining(ctx.expires_at, now, 'en')} ({stamp} Kuwait time).")
            else:
                lines.append(f"The link is valid until {stamp} (Kuwait time).")
        lines.append("Thank you.")
    return "\n".join(lines)


def email_subject(ctx: ShareContext, *, reminder: bool = False) -> str:
    """Subject line for the e-mail share."""
    amount = format_money(ctx.amount_fils, ctx.currency, lang=ctx.language)
    if ctx.language == "ar":
        return f"{'تذكير: ' if reminder else ''}رابط دفع من {ctx.shop_name} بمبلغ {amount}"
    return f"{'Reminder: ' if reminder else ''}Payment link from {ctx.shop_name} for {amount}"


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


def qr_png(link: str, *, scale: int = 8) -> bytes:
    """A QR code of ``link`` as PNG bytes (error correction M, quiet zone 4 modules)."""
    buffer = io.BytesIO()
    segno.make(link, error="m", micro=False).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def record_share(engine: Engine, actor: Actor, *, payment_pk: int, channel: str, reminder: bool = False) -> None:
    """Record that ``actor`` shared (or re-sent as a reminder) a link over ``channel``: timeline + audit."""
    require(actor, Action.SHARE_LINK)
    if channel not in CHANNELS:
        raise ValueError(f"Unknown share channel {channel!r}.")
    with session_scope(engine) as session:
        payment = session.get(Payment, payment_pk)
        if payment is None or payment.source != "link":
            raise ValueError("This payment link does not exist.")
        if not payment.link_url:
            raise ValueError("This link was not created at the gateway, so it cannot be shared.")
        if reminder and payment.status in FINAL_STATUSES:
            raise ValueError(f"This link is already {payment.status}; no reminder is needed.")
        kind = "reminded" if reminder else "shared"
        session.add(PaymentEvent(payment_pk=payment_pk, kind=kind, actor=actor.email,
                                 detail=json.dumps({"channel": channel})))
        audit.record(session, actor=actor.email, action=f"link_{kind}", target=payment.order_id,
                     after={"channel": channel})
