"""Contact data (mobile numbers, e-mail addresses) as each role may see it: the one place masking happens.

Everything that hands payments, links, refunds or customers to a person passes its rows through :func:`shield`
(search results, payment detail, link lists, refunds, exports, the customer pages). Roles without
``REVEAL_CONTACT`` (viewers) get ``+965 ••••  3456`` and ``s•••@e•••.com``; :func:`reveal` is the only way to a
full number for one customer, and it refuses those roles with PermissionDenied — hiding a button is not the check.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

import phonenumbers
from sqlalchemy.engine import Engine

from services import audit
from services.customer_keys import EMAIL_PREFIX, parse_key
from services.db import session_scope
from services.permissions import Action, Actor, allowed, authorize

T = TypeVar("T")
DOTS = "••••"
#: Attributes that hold contact data on the rows services return.
CONTACT_FIELDS = ("customer_phone", "customer_email", "phone", "email")


def mask_phone(phone: str | None) -> str:
    """``+96550003456`` → ``+965 ••••  3456`` (country code and the last four digits only)."""
    if not phone:
        return ""
    digits = "".join(ch for ch in phone if ch.isdigit())
    code = ""
    try:
        code = str(phonenumbers.parse(phone if phone.startswith("+") else "+" + digits).country_code)
    except phonenumbers.NumberParseException:
        code = ""
    last = digits[-4:] if len(digits) > len(code) + 4 else ""
    return f"+{code} {DOTS}  {last}".strip() if code else f"{DOTS}  {last}".strip()


def mask_email(email: str | None) -> str:
    """``sara@example.com`` → ``s•••@e•••.com``: enough to tell two customers apart, not to write to them."""
    if not email:
        return ""
    local, at, domain = email.partition("@")
    if not at:
        return DOTS
    host, dot, tld = domain.rpartition(".")
    masked_domain = f"{host[:1]}{DOTS[:3]}.{tld}" if dot else f"{domain[:1]}{DOTS[:3]}"
    return f"{local[:1]}{DOTS[:3]}@{masked_domain}"


def mask_key(key: str) -> str:
    """A customer key as a viewer may see it."""

    return mask_email(key[len(EMAIL_PREFIX):]) if key.startswith(EMAIL_PREFIX) else mask_phone(key)


def may_reveal(actor: Actor) -> bool:
    """Whether ``actor``'s role sees full contact data (pure role check; services call it after authorize)."""
    return allowed(actor.role, Action.REVEAL_CONTACT)


def _masked_value(name: str, value: Any) -> Any:
    if not isinstance(value, str) or not value:
        return value
    return mask_email(value) if "email" in name else mask_phone(value)


def shield(actor: Actor, row: T) -> T:
    """``row`` as ``actor`` may see it: a masked copy for roles without REVEAL_CONTACT, else ``row`` itself.

    Works on dataclasses (a replaced copy), pydantic/SQLModel objects (a copy) and dicts; the original is never
    changed.
    """
    if may_reveal(actor):
        return row
    if isinstance(row, dict):
        return {k: (_masked_value(k, v) if k in CONTACT_FIELDS else v) for k, v in row.items()}  # type: ignore[return-value]
    present = [f for f in CONTACT_FIELDS if hasattr(row, f)]
    if not present:
        return row
    changes = {f: _masked_value(f, getattr(row, f)) for f in present}
    if dataclasses.is_dataclass(row) and not isinstance(row, type):
        return dataclasses.replace(row, **changes)
    copy = row.model_copy(update=changes) if hasattr(row, "model_copy") else row
    return copy


def scrub(actor: Actor, text: str | None, *, phone: str | None, email: str | None) -> str | None:
    """Free text (an event's JSON, a gateway payload) with this phone and e-mail masked for ``actor``."""
    if text is None or may_reveal(actor):
        return text
    for value, masked in ((phone, mask_phone(phone)), (email, mask_email(email))):
        if value:
            text = text.replace(value, masked)
            if value.startswith("+"):
                text = text.replace(value[1:], masked)
    return text


def shield_all(actor: Actor, rows: list[T]) -> list[T]:
    """:func:`shield` over a list."""
    return rows if may_reveal(actor) else [shield(actor, r) for r in rows]


def reveal(engine: Engine, actor: Actor, *, key: str) -> str:
    """The full mobile number or e-mail of one customer; PermissionDenied for roles that may not see it.

    Audited (masked target), so who looked up whose number can be answered later.
    """
    actor = authorize(engine, actor, Action.REVEAL_CONTACT)

    key = parse_key(key)
    with session_scope(engine) as session:
        audit.record(session, actor=actor.email, action="customer_contact_revealed", target=mask_key(key))
    return key[len(EMAIL_PREFIX):] if key.startswith(EMAIL_PREFIX) else key
