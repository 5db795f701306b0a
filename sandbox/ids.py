"""Fresh gateway-shaped identifiers for live sandbox payments (formats shared with the demo data)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from services.demo import data as demodata
from services.timeutil import to_kuwait

_RNG = random.SystemRandom()


def track_id() -> str:
    """32 alphanumerics (§16 A7)."""
    return demodata.make_track_id(_RNG)


def session_id() -> str:
    """32 hex digits."""
    return demodata.make_session_id(_RNG)


def invoice_code() -> str:
    """Opaque invoice code, as at the end of ``uinvoice.upayments.com/<code>`` (e.g. ``48avAzbeLV``)."""
    return demodata.alnum(_RNG, 10)


def invoice_number() -> str:
    """Numeric invoice number of a charge (redirect ``invoice_id``, e.g. ``784``)."""
    return str(_RNG.randint(100_000, 9_999_999))


def upay_order_id(prefix: str, merchant_order_id: str, when: datetime) -> str:
    """UPayments order id (§2)."""
    return demodata.make_upay_order_id(_RNG, prefix, merchant_order_id, when)


def refund_ids(prefix: str, when: datetime) -> tuple[str, str, str]:
    """(refund orderId, refundOrderId, refundArn)."""
    return demodata.make_refund_ids(_RNG, prefix, when)


@dataclass(frozen=True)
class AcquirerIds:
    """What the acquirer hands back for one attempt (§2, §9.2)."""

    payment_id: str
    tran_id: str
    ref: str
    auth: str
    post_date: str


def acquirer_ids(payment_type: str, when: datetime, *, captured: bool) -> AcquirerIds:
    """KNET fills every field; card answers leave ``post_date``/``tran_id``/``ref`` empty (§9.2 note)."""
    payment_id = demodata.make_payment_id(_RNG, payment_type)
    auth = demodata.alnum(_RNG, 6).upper() if captured else ""
    if payment_type != "knet":
        return AcquirerIds(payment_id, "", "", auth, "")
    local = to_kuwait(when)
    return AcquirerIds(payment_id, demodata.digits(_RNG, 15), demodata.digits(_RNG, 12), auth, local.strftime("%m%d"))
