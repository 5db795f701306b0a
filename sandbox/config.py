"""Settings of one sandbox instance; mutable at run time through ``POST /__sandbox/config``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

#: Public sandbox keys (contract §1.2): non-white-label and white-label merchant.
TOKEN_HOSTED = "jtest123"  # noqa: S105 - public sandbox key
TOKEN_WHITE_LABEL = "e66a94d579cf75fba327ff716ad68c53aae11528"  # noqa: S105 - public sandbox key
_PREFIXES = {TOKEN_HOSTED: "ME3OdxVO6m", TOKEN_WHITE_LABEL: "WLb7Qk2ZrA"}

#: Fields ``POST /__sandbox/config`` may change while running.
RUNTIME_FIELDS = frozenset({
    "status_limit_per_minute", "refund_delay_seconds", "merchant_balance_fils", "redirect_quirk",
    "webhook_encoding", "webhook_retries", "webhook_backoff_seconds", "webhook_hmac_secret", "merchant_name",
    "deposit_delay_seconds", "conveniences", "vendor_balance_fils",
})
#: Things the sandbox can do that the live gateway does not (§18): each is OFF unless asked for by name.
#: ``payment_method``: the src word actually used (wallets visible) on redirects, webhooks and status;
#: ``refund_details``: ``refund_order_id`` and ``amount`` on check-refund items (live lists only F2's three keys);
#: ``numeric_invoice_lookup``: get-payment-status?invoice_id= also takes the redirect's numeric invoice_id (F6);
#: ``lenient_delete_refund``: delete-refund also takes the payment's order id instead of the refund's.
CONVENIENCES = frozenset({"payment_method", "refund_details", "numeric_invoice_lookup", "lenient_delete_refund"})
_INTS = {"status_limit_per_minute", "webhook_retries", "merchant_balance_fils", "vendor_balance_fils"}
_NUMBERS = {"refund_delay_seconds", "webhook_backoff_seconds"}
_OPTIONAL_NUMBERS = {"deposit_delay_seconds"}
_BOOLS = {"redirect_quirk"}


@dataclass
class SandboxConfig:
    """Everything a sandbox instance needs; the defaults mirror the contract's recommendations (§16)."""

    db_path: Path | str
    public_url: str = ""  # base of payment links; serve_in_thread fills in its own URL when empty
    extra_tokens: set[str] = field(default_factory=set)
    status_limit_per_minute: int = 30  # §16 A11
    refund_delay_seconds: float = 20.0  # §16 A21: KNET's ~4 h compressed
    merchant_balance_fils: int = 50_000_000  # initial balance in hand; refunds draw on it
    vendor_balance_fils: int = 50_000_000  # each split-payment vendor's starting balance; its refunds draw on it
    redirect_quirk: bool = True  # §9.3 / A17: "?payment_id" appended after an existing query string
    webhook_encoding: Literal["form", "json"] = "form"  # §16 A9
    webhook_retries: int = 3
    webhook_backoff_seconds: float = 0.5
    webhook_hmac_secret: str | None = None  # simulator-specific X-Sandbox-Signature header
    merchant_name: str = "Souq Demo Shop"
    max_body_bytes: int = 64 * 1024
    demo_anchor: date | None = None  # seed the demo history ending on this Kuwait day
    demo_count: int = 20_000
    demo_until: datetime | None = None  # and the anchor day's payments up to this moment
    demo_days: int = 90
    #: Demo mode's compressed clock: payments made while the sandbox runs are deposited this many seconds after
    #: capture. None: the business-day clock (17:00 Kuwait on the next business day, §18 F12), which the seeded
    #: demo history always follows — except its held day (an overdue day for the demo to show).
    deposit_delay_seconds: float | None = None

    conveniences: frozenset[str] = frozenset()  # named CONVENIENCES the live gateway lacks; none by default

    def convenient(self, name: str) -> bool:
        """Whether the named sandbox-only convenience (``CONVENIENCES``) is switched on."""
        return name in self.conveniences

    def tokens(self) -> set[str]:
        """Every accepted bearer token."""
        return {TOKEN_HOSTED, TOKEN_WHITE_LABEL, *self.extra_tokens}

    def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply run-time changes (unknown or fixed fields raise ``ValueError``); returns the new values."""
        for key, value in changes.items():
            if key not in RUNTIME_FIELDS:
                raise ValueError(f"{key!r} cannot be changed at run time")
            if key == "webhook_encoding" and value not in ("form", "json"):
                raise ValueError("webhook_encoding must be 'form' or 'json'")
            if key in _INTS and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ValueError(f"{key} must be a non-negative integer")
            if key in _NUMBERS and (isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
                raise ValueError(f"{key} must be a non-negative number")
            if key in _OPTIONAL_NUMBERS and value is not None and (
                    isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
                raise ValueError(f"{key} must be a non-negative number or null")
            if key in _BOOLS and not isinstance(value, bool):
                raise ValueError(f"{key} must be true or false")
            if key == "conveniences" and (not isinstance(value, list | set | frozenset | tuple)
                                          or not set(value) <= CONVENIENCES):
                raise ValueError(f"conveniences must be a list drawn from {sorted(CONVENIENCES)}")
            if key in {"webhook_hmac_secret", "merchant_name"} and value is not None and not isinstance(value, str):
                raise ValueError(f"{key} must be text")
        for key, value in changes.items():
            setattr(self, key, frozenset(value) if key == "conveniences" else value)
        return self.runtime_view()

    def runtime_view(self) -> dict[str, Any]:
        """The run-time fields as JSON-friendly values (the HMAC secret is masked)."""
        view = {name: getattr(self, name) for name in sorted(RUNTIME_FIELDS)}
        view["webhook_hmac_secret"] = "***" if self.webhook_hmac_secret else None
        view["conveniences"] = sorted(self.conveniences)
        return view


def is_white_label(token: str) -> bool:
    """The white-label sandbox merchant must name a method (``paymentGateway.src``)."""
    return token == TOKEN_WHITE_LABEL


def merchant_prefix(token: str) -> str:
    """The 10-character merchant prefix of UPayments order ids (§2); derived for extra tokens."""
    if token in _PREFIXES:
        return _PREFIXES[token]
    return ("MX" + hashlib.sha256(token.encode()).hexdigest())[:10]
