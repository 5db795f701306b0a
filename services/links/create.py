"""Payment links: validate the form, write the intent, ask the gateway, record the outcome — exactly once.

Order of events (design.md "Exactly once"): the link row (``link_state="creating"``) and its audit row are
committed before the gateway is called; then ``POST charge``; then the outcome (active / rejected / uncertain).
A timeout after sending leaves the link *uncertain*: the contract has no look-up by our order id (§6.1 offers
track id, session id and invoice id only, and a hosted-page link has none of them until it answers), so we never
send a second charge; a later webhook or customer redirect carrying our order id binds it (services.ingest).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from services import audit, inputs, intents
from services.db import session_scope
from services.gateway import ChargeResult, Customer, Product, UPaymentsClient, errors
from services.gateway.sentences import staff_sentence
from services.ingest import add_event
from services.models import FINAL_STATUSES, STATUS_WORDS, Payment, PaymentStatus
from services.money import EXPONENTS, InvalidAmount, format_money, parse_amount
from services.permissions import Action, Actor, authorize
from services.phones import InvalidPhone, normalize_phone
from services.sentence import N_, Count, phrase, say, sentence_of
from services.timeutil import KUWAIT, as_utc, local_day, utcnow

log = logging.getLogger(__name__)

DELIVERIES = ("link", "sms", "email", "all")  # "link": we share it ourselves (WhatsApp/QR); others: gateway sends
LANGUAGES = ("en", "ar")
MIN_EXPIRY_MINUTES, MAX_EXPIRY_MINUTES = 5, 1440  # the gateway's ceiling is 24 h (contract §4.1)
DUPLICATE_WINDOW = timedelta(minutes=10)
MAX_ITEMS = 20
_EMAIL = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']{2,}$")
_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_DATED_KEY = re.compile(r"^(\d{6})-")
_CARD_TOKEN = re.compile(r"^[1-9][0-9]{7,17}$")  # §18: 8+ digits, never a leading zero


class LinkSettings(Protocol):
    """The settings a link needs (``dashboard.settings.Settings`` fits)."""

    public_url: str
    link_expiry_minutes: int


class InvalidLinkRequest(ValueError):
    """The form has errors; ``errors`` maps field → one sentence. Nothing was created."""

    def __init__(self, field_errors: dict[str, str]) -> None:
        self.errors = dict(field_errors)
        first = next(iter(self.errors.values()), say("The form has errors."))
        super().__init__(first)


@dataclass(frozen=True)
class LineItem:
    """One line of the order as typed (price in major units, e.g. "2.500")."""

    name: str
    quantity: int | str = 1
    unit_price: str | Decimal | int = ""
    description: str = ""


@dataclass(frozen=True)
class LinkRequest:
    """The new-link form. ``idempotency_key`` is made once per intent (``new_idempotency_key``), reused on rerun."""

    idempotency_key: str
    amount: str | Decimal | int = ""
    currency: str = "KWD"
    description: str = ""
    items: tuple[LineItem, ...] = ()
    customer_name: str = ""
    customer_phone: str = ""
    customer_email: str = ""
    language: str = "en"
    expiry_minutes: int | None = None  # None: the shop's default (settings.link_expiry_minutes)
    delivery: str = "link"
    saved_cards_token: str | None = None  # the customer's unique token: the page offers their saved cards
    # (§18 tokens.customerUniqueToken + isSaveCard; set by services.customers.present, digits only)


@dataclass(frozen=True)
class CleanLink:
    """A validated request, ready for the gateway."""

    amount_fils: int
    currency: str
    description: str
    products: tuple[Product, ...]
    customer_name: str | None
    customer_phone: str | None  # E.164
    customer_email: str | None
    language: str
    expiry_minutes: int
    delivery: str


@dataclass(frozen=True)
class LinkOutcome:
    """What happened to one create (or check-again) request; ``message`` is one sentence for the page."""

    payment_pk: int
    order_id: str
    state: str  # active | rejected | uncertain | creating
    status: str  # the payment's status (pending until a verified look-up says otherwise)
    link_url: str | None
    message: str
    created: bool = True  # False: an earlier attempt with the same idempotency key was found
    duplicate_of: str | None = None  # order id of a recent link for the same phone and amount (a warning)
    sms_sent: bool | None = None
    email_sent: bool | None = None
    details: dict[str, Any] = field(default_factory=dict)


def new_idempotency_key(now: datetime | None = None) -> str:
    """A fresh key for one intent: Kuwait date + 16 random characters (the date keeps the order id stable)."""
    day = as_utc(now or utcnow()).astimezone(KUWAIT).strftime("%y%m%d")
    return f"{day}-{secrets.token_urlsafe(12)}"


def order_id_for(idempotency_key: str, now: datetime | None = None) -> str:
    """Our order id for an intent, ``SD-<yymmdd>-<10 chars>`` (≤ 40 chars, contract §4.1); same key → same id."""
    if not _KEY.match(idempotency_key or ""):
        raise ValueError(say("The form's idempotency key is missing or malformed; reload the page."))
    dated = _DATED_KEY.match(idempotency_key)
    day = dated.group(1) if dated else as_utc(now or utcnow()).astimezone(KUWAIT).strftime("%y%m%d")
    digest = base64.b32encode(hashlib.sha256(idempotency_key.encode()).digest()).decode()[:10]
    return f"SD-{day}-{digest}"


def _text(value: object) -> str:
    return str(value or "").strip()


def _parse_items(request: LinkRequest, currency: str, errors_: dict[str, str]) -> tuple[Product, ...]:
    if len(request.items) > MAX_ITEMS:
        errors_["items"] = say("At most {limit} items per link.", limit=Count(MAX_ITEMS))
        return ()
    products: list[Product] = []
    for n, item in enumerate(request.items, start=1):
        if not isinstance(item, LineItem):
            errors_["items"] = say("Item {n} is not an item of the form; reload the page.", n=n)
            return ()
        problem = (inputs.bad_text(item.name, say("name of item {n}", n=n), max_len=255)
                   or inputs.bad_text(item.description, say("description of item {n}", n=n), max_len=255))
        if problem:
            errors_["items"] = problem
            return ()
        name = _text(item.name)
        if not name and not _text(item.unit_price):
            continue  # an empty row of the items table
        if not name or len(name) > 255:
            errors_["items"] = say("Item {n}: give it a name (up to 255 characters).", n=n)
            return ()
        try:  # True/False are not counts (the form sends text; a caller sending a bool is refused)
            quantity = 0 if isinstance(item.quantity, bool) else int(_text(item.quantity) or "1")
        except ValueError:
            quantity = 0
        if not 1 <= quantity <= 9_999_999:
            errors_["items"] = say("Item {n}: the quantity must be a whole number of at least 1.", n=n)
            return ()
        try:
            price = parse_amount(item.unit_price, currency)
        except InvalidAmount as exc:
            errors_["items"] = say("Item {n}: {problem}", n=n, problem=sentence_of(exc))
            return ()
        products.append(Product(name=name, description=_text(item.description)[:255] or None, price_fils=price,
                                quantity=quantity))
    return tuple(products)


def clean_link_request(request: LinkRequest, settings_like: LinkSettings | None = None,
                       ) -> tuple[CleanLink | None, dict[str, str]]:
    """Validate the form: (clean request, {}) or (None, field → one sentence)."""
    if not isinstance(request, LinkRequest) or not isinstance(request.items, tuple | list):
        return None, {"form": say("This form is not a payment link form; reload the page and try again.")}
    errs = {name: problem for name, problem in _bad_texts(request).items() if problem}
    if errs:
        return None, errs
    currency = _text(request.currency).upper() or "KWD"
    if currency not in EXPONENTS:
        errs["currency"] = say("{currency} is not a currency the gateway accepts.", currency=currency)
        currency = "KWD"
    products = _parse_items(request, currency, errs)
    items_total = sum(p.price_fils * p.quantity for p in products)
    amount_fils = 0
    if isinstance(request.amount, str) and not request.amount.strip() and products:
        amount_fils = items_total
        if amount_fils <= 0:
            errs["amount"] = say("Enter an amount greater than zero.")
    else:
        try:
            amount_fils = parse_amount(request.amount, currency)
        except InvalidAmount as exc:
            errs["amount"] = sentence_of(exc)
        else:
            if products and items_total != amount_fils:
                errs["amount"] = say("The items add up to {total}, not {amount}; fix one of them or leave the amount "
                                     "empty.", total=format_money(items_total, currency),
                                     amount=format_money(amount_fils, currency))
    description = _text(request.description) or ", ".join(p.name for p in products)
    if not description:
        errs["description"] = say("Say what the payment is for (the customer sees it).")
    elif len(description) > 500:
        errs["description"] = say("Keep the description under 500 characters.")
    name = _text(request.customer_name)
    if len(name) > 255:
        errs["customer_name"] = say("The customer's name is too long (255 characters at most).")
    delivery = _text(request.delivery) or "link"
    if delivery not in DELIVERIES:
        errs["delivery"] = say("Choose how the link reaches the customer.")
    phone: str | None = None
    if _text(request.customer_phone):
        try:
            phone = normalize_phone(_text(request.customer_phone))
        except InvalidPhone as exc:
            errs["customer_phone"] = sentence_of(exc) or say("Enter a Kuwaiti mobile number, e.g. 5512 3456.")
    elif delivery in ("sms", "all"):
        errs["customer_phone"] = say("The gateway can only send an SMS to a mobile number: enter one.")
    email = _text(request.customer_email) or None
    if email and (len(email) > 250 or not _EMAIL.match(email)):
        errs["customer_email"] = say("Enter a valid e-mail address, e.g. sara@example.com.")
    elif not email and delivery in ("email", "all"):
        errs["customer_email"] = say("The gateway can only e-mail the link to an address: enter one.")
    language = _text(request.language) or "en"
    if language not in LANGUAGES:
        errs["language"] = say("The payment page language must be English or Arabic.")
    default_expiry = getattr(settings_like, "link_expiry_minutes", MAX_EXPIRY_MINUTES)
    expiry = request.expiry_minutes if request.expiry_minutes is not None else default_expiry
    if isinstance(expiry, bool) or not isinstance(expiry, int) or not (
            MIN_EXPIRY_MINUTES <= expiry <= MAX_EXPIRY_MINUTES):
        errs["expiry_minutes"] = say("A link can be valid from 5 minutes up to 24 hours.")
    if not isinstance(request.idempotency_key, str) or not _KEY.match(request.idempotency_key):
        errs["form"] = say("This form has expired; reload the page and try again.")
    token = request.saved_cards_token
    if token is not None and not (isinstance(token, str) and _CARD_TOKEN.match(token)):
        errs["form"] = say("The customer's saved-card token is not valid; open the customer's page again.")
    if errs:
        return None, errs
    return CleanLink(amount_fils=amount_fils, currency=currency, description=description, products=products,
                     customer_name=name or None, customer_phone=phone, customer_email=email, language=language,
                     expiry_minutes=int(expiry), delivery=delivery), {}


def _bad_texts(request: LinkRequest) -> dict[str, str | None]:
    """Field → why its raw value is not text we accept (wrong type, control or bidi-override characters)."""
    return {
        "currency": inputs.bad_text(request.currency, N_("currency"), max_len=3),
        "description": inputs.bad_text(request.description, N_("description"), max_len=500, multiline=True),
        "customer_name": inputs.bad_text(request.customer_name, N_("customer's name"), max_len=255),
        "customer_phone": inputs.bad_text(request.customer_phone, N_("phone number"), max_len=40),
        "customer_email": inputs.bad_text(request.customer_email, N_("e-mail address"), max_len=250),
        "language": inputs.bad_text(request.language, N_("language"), max_len=2),
        "delivery": inputs.bad_text(request.delivery, N_("delivery"), max_len=5),
    }


def validate_link_request(request: LinkRequest, settings_like: LinkSettings | None = None) -> dict[str, str]:
    """Field-level errors of the form (field → one sentence); empty when it can be sent."""
    return clean_link_request(request, settings_like)[1]


def recent_duplicate(engine: Engine, phone: str | None, amount_fils: int, *, exclude_order_id: str | None = None,
                     now: datetime | None = None) -> Payment | None:
    """The newest link for the same phone and amount in the last 10 minutes (a warning, never a block)."""
    if not phone:
        return None
    since = (now or utcnow()) - DUPLICATE_WINDOW
    stmt = (select(Payment).where(col(Payment.source) == "link", col(Payment.customer_phone) == phone,
                                  col(Payment.amount_fils) == amount_fils, col(Payment.created_at) >= since,
                                  col(Payment.link_state) != "rejected")
            .order_by(col(Payment.created_at).desc()))
    if exclude_order_id:
        stmt = stmt.where(col(Payment.order_id) != exclude_order_id)
    with Session(engine) as session:
        return session.exec(stmt.limit(1)).first()


def _urls(settings_like: LinkSettings, order_id: str) -> dict[str, str]:
    base = settings_like.public_url.rstrip("/") + "/"
    return {"return_url": f"{base}pay/return?o={order_id}", "cancel_url": f"{base}pay/cancel?o={order_id}",
            "notification_url": f"{base}webhooks/upayments"}


def _outcome(payment: Payment, *, created: bool, message: str | None = None, duplicate_of: str | None = None,
             **extra: Any) -> LinkOutcome:
    assert payment.id is not None
    state = payment.link_state or "active"
    return LinkOutcome(payment_pk=payment.id, order_id=payment.order_id, state=state, status=payment.status,
                       link_url=payment.link_url, message=message or state_message(payment), created=created,
                       duplicate_of=duplicate_of, **extra)


def state_message(payment: Payment) -> str:
    """One sentence about where a link stands (for the page)."""
    if payment.status == PaymentStatus.PAID:
        return say("Paid — the gateway confirmed the payment.")
    if payment.status in FINAL_STATUSES:  # paid was answered above
        return say("The payment is {status}; create a new link if the customer still wants to pay.",
                   status=phrase(STATUS_WORDS.get(payment.status, payment.status)))
    state = payment.link_state
    if state == "rejected":
        return say("The gateway did not create this link; nothing was charged. Fix the problem and create a new "
                   "link.")
    if state in ("uncertain", "creating"):
        return say("We could not confirm whether the gateway created this link (its answer did not arrive). Do not "
                   "create another one yet: press “Check again”. If the customer pays, the gateway's "
                   "notification will attach the payment here.")
    return say("The link is ready to share.")


def create_link(engine: Engine, client: UPaymentsClient, actor: Actor, *, request: LinkRequest,
                settings_like: LinkSettings) -> LinkOutcome:
    """Create one payment link exactly once per idempotency key; raises InvalidLinkRequest on form errors."""
    actor = authorize(engine, actor, Action.CREATE_LINK)
    clean, errs = clean_link_request(request, settings_like)
    if clean is None:
        raise InvalidLinkRequest(errs)
    order_id = order_id_for(request.idempotency_key)
    existing = _find(engine, order_id)
    if existing is not None:
        return _existing_outcome(engine, existing, settings_like)
    duplicate = recent_duplicate(engine, clean.customer_phone, clean.amount_fils, exclude_order_id=order_id)
    now = utcnow()
    try:
        payment = _write_intent(engine, actor, clean, order_id, now)
    except IntegrityError:  # a concurrent double click wrote the same order id first
        found = _find(engine, order_id)
        if found is None:
            raise
        return _existing_outcome(engine, found, settings_like)
    assert payment.id is not None
    try:
        result = client.charges.create(
            order_id=order_id, amount_fils=clean.amount_fils, currency=clean.currency, description=clean.description,
            language=clean.language, src="create-invoice", notification_type=clean.delivery,
            customer=Customer(name=clean.customer_name, email=clean.customer_email, mobile=clean.customer_phone),
            products=list(clean.products) or None, reference_id=order_id, expiry_minutes=clean.expiry_minutes,
            customer_unique_token=request.saved_cards_token, save_card=request.saved_cards_token is not None,
            **_urls(settings_like, order_id),
        )
    except Exception as exc:
        return _record_failure(engine, payment.id, actor, exc, duplicate)
    return _record_success(engine, payment.id, actor, result, duplicate)


def _find(engine: Engine, order_id: str) -> Payment | None:
    with Session(engine) as session:
        return session.exec(select(Payment).where(col(Payment.order_id) == order_id)).first()


def _existing_outcome(engine: Engine, payment: Payment, settings_like: LinkSettings) -> LinkOutcome:
    """A rerun or double click (a twin: the INSERT of the order id was the claim, and it lost): it never charges;
    it waits briefly for an attempt still in flight (services.intents), then reports that row."""
    timeout = float(getattr(settings_like, "gateway_timeout_seconds", 15.0)) + 5.0
    age = (utcnow() - as_utc(payment.created_at)).total_seconds()
    if payment.link_state == "creating" and age < timeout:  # older: the first attempt crashed, don't wait
        payment, _ = intents.await_outcome(lambda: _find(engine, payment.order_id) or payment,
                                           lambda row: row.link_state == "creating", timeout=timeout - age,
                                           poll=0.1)
    return _outcome(payment, created=False)


def _write_intent(engine: Engine, actor: Actor, clean: CleanLink, order_id: str, now: datetime) -> Payment:
    payment = Payment(
        order_id=order_id, reference=order_id, amount_fils=clean.amount_fils, currency=clean.currency,
        status=PaymentStatus.PENDING, source="link", link_state="creating", notification_type=clean.delivery,
        created_by=actor.email, created_at=now, local_day=local_day(now), updated_at=now,
        expires_at=now + timedelta(minutes=clean.expiry_minutes), customer_name=clean.customer_name,
        customer_phone=clean.customer_phone, customer_email=clean.customer_email, description=clean.description,
        language=clean.language,
    )
    with session_scope(engine) as session:
        session.add(payment)
        session.flush()
        assert payment.id is not None
        summary = {"order_id": order_id, "amount_fils": clean.amount_fils, "currency": clean.currency,
                   "phone": clean.customer_phone, "delivery": clean.delivery, "expiry_minutes": clean.expiry_minutes,
                   "items": len(clean.products)}
        add_event(session, payment.id, "created", summary, actor.email)
        audit.record(session, actor=actor.email, action="link_created", target=order_id, after=summary)
    return payment


def _record_success(engine: Engine, payment_pk: int, actor: Actor, result: ChargeResult, duplicate: Payment | None,
                    ) -> LinkOutcome:
    with session_scope(engine) as session:
        payment = session.get(Payment, payment_pk)
        assert payment is not None
        payment.link_state = "active"
        payment.link_url = result.link
        payment.invoice_id = result.invoice_id or payment.invoice_id
        payment.session_id = result.session_id or payment.session_id
        if result.track_id and payment.track_id is None:
            clash = session.exec(select(Payment.id).where(col(Payment.track_id) == result.track_id)).first()
            if clash is None:
                payment.track_id = result.track_id
        payment.updated_at = utcnow()
        session.add(payment)
        ids = {"invoice_id": result.invoice_id, "session_id": result.session_id, "track_id": result.track_id,
               "sms_sent": result.sms_sent, "email_sent": result.email_sent}
        add_event(session, payment_pk, "link_active", ids, actor.email)
        audit.record(session, actor=actor.email, action="link_active", target=payment.order_id,
                     after={"link_state": "active", **ids})
        session.flush()
        message = say("The link is ready to share.")
        if payment.notification_type in ("sms", "email", "all"):
            message = say("The link is ready; the gateway sends it to the customer (only in production, never in "
                          "test).")
        return _outcome(payment, created=True, message=message,
                        duplicate_of=duplicate.order_id if duplicate else None,
                        sms_sent=result.sms_sent, email_sent=result.email_sent)


def _refusal_reason(exc: BaseException) -> str | None:
    """The gateway's one-sentence reason when it understood and refused; None for anything else."""
    if isinstance(exc, errors.BusinessRefusal):
        return exc.message.rstrip(".") + "."
    if isinstance(exc, errors.ValidationFailed):
        fields = "; ".join(f"{k}: {' '.join(v)}" for k, v in sorted(exc.errors.items()))
        return (exc.message.rstrip(".") + (f" ({fields})" if fields else "")) + "."
    if isinstance(exc, errors.BadRequest | errors.PermissionDeniedByGateway | errors.NotFound):
        return exc.message.rstrip(".") + "."
    if isinstance(exc, ValueError | TypeError):  # refused locally by the client before sending
        return str(exc)
    return None


def _record_failure(engine: Engine, payment_pk: int, actor: Actor, exc: Exception, duplicate: Payment | None,
                    ) -> LinkOutcome:
    uncertain = errors.is_uncertain(exc)
    reason = _refusal_reason(exc)
    if uncertain:
        state = "uncertain"
        log.warning("link %s: outcome unknown after %s", payment_pk, exc)
    elif reason is not None:
        state = "rejected"
        log.info("link %s refused by the gateway: %s", payment_pk, exc)
    elif isinstance(exc, errors.GatewayError):
        state, reason = "rejected", _not_sent_reason(exc)
        log.warning("link %s not sent: %s", payment_pk, exc)
    else:  # a bug of ours after the intent was written: treat as uncertain, never resend blindly
        state = "uncertain"
        log.exception("link %s: unexpected error while creating", payment_pk, exc_info=exc)
    with session_scope(engine) as session:
        payment = session.get(Payment, payment_pk)
        assert payment is not None
        payment.link_state = state
        payment.updated_at = utcnow()
        session.add(payment)
        detail = {"error": type(exc).__name__, "reason": reason or str(exc)[:500]}
        add_event(session, payment_pk, f"link_{state}", detail, actor.email)
        audit.record(session, actor=actor.email, action=f"link_{state}", target=payment.order_id, after=detail)
        session.flush()
        message = state_message(payment) if state == "uncertain" else reason
        return _outcome(payment, created=True, message=message,
                        duplicate_of=duplicate.order_id if duplicate else None, details={"reason": reason})


def _not_sent_reason(exc: errors.GatewayError) -> str:
    return staff_sentence(exc, refused=N_("the link"), kept=N_("nothing was created"))

