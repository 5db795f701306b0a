"""Deterministic demo payments shared by the sandbox and the dashboard's demo seeding, plus gateway-shaped ids.

Pure Python (no sandbox import): both sides call :func:`generate` with the same arguments and get the same
payments, so a status look-up of any demo payment agrees with the dashboard cache.
"""

from __future__ import annotations

import random
import string
from datetime import datetime

_ALNUM = string.ascii_letters + string.digits
_HEX = "0123456789abcdef"
#: UPayments order-id prefix of the public non-white-label sandbox merchant (``jtest123``), contract §2.
DEMO_MERCHANT_PREFIX = "ME3OdxVO6m"


# ---------------------------------------------------------------- gateway-shaped identifiers (contract §2)


def alnum(rng: random.Random, n: int) -> str:
    """``n`` random letters and digits."""
    return "".join(rng.choice(_ALNUM) for _ in range(n))


def digits(rng: random.Random, n: int) -> str:
    """``n`` random decimal digits (may start with 0)."""
    return "".join(rng.choice(string.digits) for _ in range(n))


def hexchars(rng: random.Random, n: int) -> str:
    """``n`` random lower-case hex digits."""
    return "".join(rng.choice(_HEX) for _ in range(n))


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
    """(refund ``orderId``, ``refundOrderId`` of 32 alphanumerics, ``refundArn`` digits) as create-refund gives."""
    order_id = f"{prefix[:10]}RF{int(when.timestamp())}{digits(rng, 9)}{hexchars(rng, 12)}"
    arn = when.strftime("%Y%m%d") + digits(rng, 22)
    return order_id, alnum(rng, 32), arn
