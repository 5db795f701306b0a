"""Deterministic demo payments shared by the sandbox and the dashboard's demo seeding, plus gateway-shaped ids.

Pure Python (no sandbox import): both sides call :func:`generate` with the same arguments and get the same
payments, so a status look-up of any demo payment agrees with the dashboard cache.
"""

from __future__ import annotations

import math
import random
import string
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

_ALNUM = string.ascii_letters + string.digits
_KUWAIT = ZoneInfo("Asia/Kuwait")
_HEX = "0123456789abcdef"
#: UPayments order-id prefix of the public non-white-label sandbox merchant (``jtest123``), contract §2.
DEMO_MERCHANT_PREFIX = "ME3OdxVO6m"


# ---------------------------------------------------------------- gateway-shaped identifiers (contract §2)


def alnum(rng: random.Random, n: int) -> str:
    """``n`` random letters and digits (one big random number in base 62: fast)."""
    value = rng.randrange(62**n)
    chars = []
    for _ in range(n):
        value, digit = divmod(value, 62)
        chars.append(_ALNUM[digit])
    return "".join(chars)


def digits(rng: random.Random, n: int) -> str:
    """``n`` random decimal digits (may start with 0)."""
    return f"{rng.randrange(10**n):0{n}d}"


def hexchars(rng: random.Random, n: int) -> str:
    """``n`` random lower-case hex digits."""
    return f"{rng.getrandbits(4 * n):0{n}x}"


def make_track_id(rng: random.Random) -> str:
    """A track id: 32 alphanumerics (§16 A7)."""
    return alnum(rng, 32)


def make_session_id(rng: random.Random) -> str:
    """A checkout session id: 32 hex digits."""
    return hexchars(rng, 32)


def make_upay_order_id(rng: random.Random, prefix: str, merchant_order_id: str, when: datetime) -> str:
    """UPayments order id: 10-char merchant prefix + merchant order id + unix time + digits + hex (§2)."""
    return f"{prefix[:10]}{merchant_order_id}{int(when.timestamp())}{digits(rng, 9)}{hexchars(rng, 12)}"


def make_payment_id(rng: random.Random, payment_type: str) -> str:
    """Acquirer payment id: 18 digits for KNET, 16 hex digits for cards and wallets."""
    return "10" + digits(rng, 16) if payment_type == "knet" else hexchars(rng, 16)


def make_refund_ids(rng: random.Random, prefix: str, when: datetime) -> tuple[str, str, str]:
    """(refund ``orderId``, ``refundOrderId`` of 32 alphanumerics, ``refundArn`` digits) as create-refund gives.

    §18 F3: in every example the refund's ``orderId`` ends with its ``refundOrderId``.
    """
    refund_order_id = alnum(rng, 32)
    order_id = f"{prefix[:10]}{int(when.timestamp())}{digits(rng, 6)}{refund_order_id}"
    arn = when.strftime("%Y%m%d") + digits(rng, 22)
    return order_id, refund_order_id, arn


# ---------------------------------------------------------------- demo history

#: Our method value → (gateway ``src`` word, ``payment_type``) (contract §4.1, §16 A15).
METHOD_SRC: dict[str, tuple[str, str]] = {
    "knet": ("knet", "knet"), "card": ("cc", "cc"), "amex": ("amex", "cc"), "apple_pay": ("apple-pay", "cc"),
    "apple_pay_knet": ("apple-pay-knet", "cc"), "google_pay": ("google-pay", "cc"),
    "samsung_pay": ("samsung-pay", "cc"),
}
_METHODS = ("knet", "card", "amex", "apple_pay", "google_pay", "samsung_pay", "apple_pay_knet")
_METHOD_WEIGHTS = (55, 23, 2, 13, 4, 2, 1)
# Orders per Kuwait hour (0..23): a late-night tail, quiet mornings, busy evenings after iftar/dinner time.
_HOURS = (5, 3, 2, 1, 1, 1, 1, 2, 4, 6, 7, 8, 8, 8, 7, 7, 8, 9, 11, 13, 15, 15, 13, 9)
# Friday mornings are quiet (prayer, family time); the evening is as busy as any weekend.
_FRIDAY_HOURS = tuple(w * (0.3 if 5 <= h <= 13 else 1.1) for h, w in enumerate(_HOURS))
# Python weekday(): Mon=0 … Sun=6. Weekend (Fri/Sat) evenings spend a little more.
_WEEKDAY = {6: 1.0, 0: 0.95, 1: 0.95, 2: 1.0, 3: 1.15, 4: 0.9, 5: 1.1}
_FIRST = ("Abdullah", "Mohammad", "Ahmad", "Fahad", "Khaled", "Yousef", "Sulaiman", "Bader", "Nasser", "Hamad",
          "Fatma", "Noura", "Maryam", "Dana", "Sara", "Hessa", "Aisha", "Shaikha", "Latifa", "Ghadeer")
_FAMILY = ("Al-Sabah", "Al-Mutairi", "Al-Ajmi", "Al-Enezi", "Al-Rashidi", "Al-Kandari", "Al-Shammari",
           "Al-Otaibi", "Al-Hajri", "Al-Azmi", "Behbehani", "Al-Ghanim", "Al-Saleh", "Dashti")
_EXPAT = ("Priya Nair", "Rahul Menon", "Anil Kumar", "Maria Santos", "Jose Reyes", "Grace Mendoza",
          "Mohamed Hassan", "Ahmed Mostafa", "Rania Youssef", "Omar Khalil", "Layla Haddad", "Sameer Ali",
          "John Smith", "Emma Clarke", "Imran Sheikh", "Fatima Begum", "Nadia Rahman", "Tariq Aziz")
_DOMAINS = ("gmail.com", "hotmail.com", "outlook.com", "yahoo.com", "icloud.com")
_PRODUCTS = ("Abaya", "Oud perfume", "Dates gift box", "Bakhoor set", "Phone case", "Wireless earbuds",
             "Sneakers", "Dishdasha", "Coffee beans", "Kids toy set", "Skincare bundle", "Gift card",
             "Home fragrance", "Prayer mat", "Smart watch strap", "Chocolate tray", "Handbag", "Sunglasses")
_PREFIXES = ("Web order", "Instagram order", "WhatsApp order", "Order")


@dataclass(frozen=True)
class DemoRefund:
    """One refund of a demo payment."""

    refund_order_id: str
    """``refundOrderId`` (32 alphanumerics)."""
    gateway_order_id: str
    """The refund's own ``orderId`` from create-refund."""
    amount_fils: int
    """Amount in fils."""
    created_at: datetime
    """UTC."""
    refunded_at: datetime | None
    """UTC, or None while initiated."""


@dataclass(frozen=True)
class DemoPayment:
    """One demo payment, identical on the sandbox and the dashboard side."""

    merchant_order_id: str
    track_id: str
    upay_order_id: str
    payment_id: str
    invoice_id: str
    session_id: str
    reference: str
    amount_fils: int
    """Amount in fils (KWD)."""
    currency: str
    result: str
    """CAPTURED, NOT CAPTURED or CANCELED."""
    method: str
    """Our method value (knet, card, amex, apple_pay, apple_pay_knet, google_pay, samsung_pay)."""
    src: str
    """Gateway ``src`` word."""
    payment_type: str
    """knet or cc."""
    created_at: datetime
    """UTC."""
    customer_name: str
    customer_phone: str
    """E.164: +965 and 8 digits starting 5, 6 or 9."""
    customer_email: str | None
    description: str
    refunds: tuple[DemoRefund, ...] = ()


def _amount(rng: random.Random) -> int:
    """KWD 1.250–250.000, log-normal around 14 KWD; mostly whole, half and quarter dinars."""
    fils = int(math.exp(rng.gauss(math.log(14_000), 0.85)))
    fils = min(250_000, max(1_250, fils))
    step = 250 if rng.random() < 0.85 else 5
    return max(1_250, fils // step * step)


def _customer(rng: random.Random) -> tuple[str, str, str | None]:
    name = f"{rng.choice(_FIRST)} {rng.choice(_FAMILY)}" if rng.random() < 0.62 else rng.choice(_EXPAT)
    phone = f"+965{rng.choice('569')}{digits(rng, 7)}"
    email = None
    if rng.random() < 0.7:
        local = name.lower().replace("al-", "").replace(" ", rng.choice((".", "_", "")))
        email = f"{local}{rng.randrange(100) if rng.random() < 0.5 else ''}@{rng.choice(_DOMAINS)}"
    return name, phone, email


def _refunds(rng: random.Random, amount: int, method: str, paid_at: datetime, end: datetime) -> tuple[DemoRefund, ...]:
    full = rng.random() < 0.6
    refund = amount if full else max(250, int(amount * rng.uniform(0.2, 0.8)) // 250 * 250)
    created = paid_at + timedelta(hours=rng.uniform(1, 240))
    if created >= end:
        return ()
    lag = timedelta(hours=rng.uniform(1, 4)) if method == "knet" else timedelta(days=rng.uniform(2, 3))
    refunded = created + lag if created + lag < end else None
    order_id, refund_order_id, _arn = make_refund_ids(rng, DEMO_MERCHANT_PREFIX, created)
    return (DemoRefund(refund_order_id, order_id, refund, created, refunded),)


def generate(anchor: date, *, days: int = 90, count: int = 20_000, seed: int = 965,
             until: datetime | None = None) -> Iterator[DemoPayment]:
    """``count`` payments over the ``days`` Kuwait days before ``anchor``, oldest first; deterministic.

    The history stops at the anchor day's Kuwait midnight, so with ``anchor`` = today nothing lies in the future.
    With ``until``, the anchor day's payments up to that moment follow (see :func:`_today_so_far`).
    """
    rng = random.Random(f"souq-demo|{seed}|{anchor.isoformat()}|{days}|{count}")
    first = anchor - timedelta(days=days)
    end = datetime(anchor.year, anchor.month, anchor.day, tzinfo=_KUWAIT).astimezone(UTC)
    day_list = [first + timedelta(days=i) for i in range(days)]
    # Slow growth over the period, a salary bump in the last days of each month, weekday rhythm.
    day_weights = [
        _WEEKDAY[d.weekday()] * (0.85 + 0.3 * i / max(1, days - 1)) * (1.2 if d.day >= 25 or d.day <= 2 else 1.0)
        for i, d in enumerate(day_list)
    ]
    picked_days = rng.choices(day_list, weights=day_weights, k=count)
    moments: list[datetime] = []
    for d in picked_days:
        hour = rng.choices(range(24), weights=_FRIDAY_HOURS if d.weekday() == 4 else _HOURS)[0]
        local = datetime(d.year, d.month, d.day, hour, rng.randrange(60), rng.randrange(60), tzinfo=_KUWAIT)
        moments.append(local.astimezone(UTC))
    moments.sort()
    methods = rng.choices(_METHODS, weights=_METHOD_WEIGHTS, k=count)
    for n, (created, method) in enumerate(zip(moments, methods, strict=True), start=1):
        local_day = created.astimezone(_KUWAIT).strftime("%y%m%d")
        yield _payment(rng, f"SD{local_day}-{n:06d}", f"REF{local_day}{n:06d}", created, method, end)
    if until is not None:
        yield from _today_so_far(anchor, until, days=days, count=count, seed=seed)


def _today_so_far(anchor: date, until: datetime, *, days: int, count: int, seed: int) -> Iterator[DemoPayment]:
    """The anchor day's payments up to ``until``, minute by minute at the history's daily rate and hourly rhythm.

    Each minute decides on its own (its own random stream), so a later ``until`` only adds payments: a demo
    restarted in the afternoon keeps the morning's payments, identical on both sides.
    """
    start = datetime(anchor.year, anchor.month, anchor.day, tzinfo=_KUWAIT)
    stop = min(until.astimezone(_KUWAIT), start + timedelta(days=1))
    hours = _FRIDAY_HOURS if anchor.weekday() == 4 else _HOURS
    per_day = count / max(1, days) * _WEEKDAY[anchor.weekday()]
    minute = start
    while minute + timedelta(minutes=1) <= stop:
        rng = random.Random(f"souq-demo-today|{seed}|{days}|{count}|{minute.isoformat()}")
        if rng.random() < per_day * hours[minute.hour] / sum(hours) / 60:
            created = (minute + timedelta(seconds=rng.randrange(60))).astimezone(UTC)
            method = rng.choices(_METHODS, weights=_METHOD_WEIGHTS)[0]
            stamp = minute.strftime("%y%m%d")
            slot = minute.hour * 60 + minute.minute
            yield _payment(rng, f"SD{stamp}-T{slot:04d}", f"REF{stamp}T{slot:04d}", created, method,
                           until.astimezone(UTC))
        minute += timedelta(minutes=1)


def _payment(rng: random.Random, merchant_order_id: str, reference: str, created: datetime, method: str,
             end: datetime) -> DemoPayment:
    """One demo payment's fields drawn from ``rng`` (refunds only before ``end``)."""
    src, payment_type = METHOD_SRC[method]
    roll = rng.random()
    result = "NOT CAPTURED" if roll < 0.08 else ("CANCELED" if roll < 0.11 else "CAPTURED")
    amount = _amount(rng)
    name, phone, email = _customer(rng)
    product = rng.choice(_PRODUCTS)
    qty = 1 if rng.random() < 0.75 else rng.randint(2, 4)
    description = f"{rng.choice(_PREFIXES)} {merchant_order_id}: {product}" + (f" x{qty}" if qty > 1 else "")
    refunds: tuple[DemoRefund, ...] = ()
    if result == "CAPTURED" and rng.random() < 0.02:
        refunds = _refunds(rng, amount, method, created, end)
    return DemoPayment(
        merchant_order_id=merchant_order_id,
        track_id=make_track_id(rng),
        upay_order_id=make_upay_order_id(rng, DEMO_MERCHANT_PREFIX, merchant_order_id, created),
        payment_id=make_payment_id(rng, payment_type),
        invoice_id=str(rng.randrange(100_000, 10_000_000)),
        session_id=make_session_id(rng),
        reference=reference,
        amount_fils=amount,
        currency="KWD",
        result=result,
        method=method,
        src=src,
        payment_type=payment_type,
        created_at=created,
        customer_name=name,
        customer_phone=phone,
        customer_email=email,
        description=description,
        refunds=refunds,
    )


# ---------------------------------------------------------------- demo regulars (customers with saved cards)

#: Three returning customers of the demo shop, with fixed numbers so README can name them, and the sandbox test
#: card each one has saved (the last one is the sandbox's designated declined card, issue 16).
REGULARS: tuple[tuple[str, str, str | None, str], ...] = (
    ("Sara Al-Ali", "+96550001234", "sara@souq.demo", "5123450000000008"),
    ("Hamad Al-Mutairi", "+96560004321", None, "4111111111111111"),
    ("Noura Al-Sabah", "+96599007788", "noura@souq.demo", "4000000000000002"),
)


def regular_payments(anchor: date, *, days: int = 90) -> Iterator[DemoPayment]:
    """A few card purchases of each regular over the ``days`` before ``anchor`` (oldest first; deterministic).

    Kept apart from :func:`generate` so the generated history stays exactly as it was; both seeders add these.
    """
    rng = random.Random(f"souq-demo-regulars|{anchor.isoformat()}|{days}")
    end = datetime(anchor.year, anchor.month, anchor.day, tzinfo=_KUWAIT).astimezone(UTC)
    made: list[tuple[datetime, int, tuple[str, str, str | None, str]]] = []
    for who in REGULARS:
        for _ in range(4):
            made.append((end - timedelta(days=rng.uniform(1, max(2, days - 1))), rng.randrange(4, 40) * 1_000, who))
    made.sort(key=lambda item: item[0])
    for n, (created, amount, (name, phone, email, _card)) in enumerate(made, start=1):
        stamp = created.astimezone(_KUWAIT).strftime("%y%m%d")
        base = _payment(rng, f"SR{stamp}-{n:04d}", f"REG{stamp}{n:04d}", created, "card", end)
        yield DemoPayment(**{**base.__dict__, "amount_fils": amount, "result": "CAPTURED", "refunds": (),
                             "customer_name": name, "customer_phone": phone, "customer_email": email,
                             "description": f"Repeat order {base.merchant_order_id}: monthly box"})
