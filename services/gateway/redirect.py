"""Parse what the gateway appends to the return/cancel URL and posts to the webhook (contract §9, §10).

The result is informational only: bind it to a payment by asking ``payments.status`` (§16 A24).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from .models import RedirectParams
from .vocab import method_from, normalise_result

#: Parameters the gateway appends (§9.2), plus the simulator's ``payment_method`` src word.
GATEWAY_KEYS = frozenset(
    {
        "payment_id", "result", "post_date", "tran_id", "ref", "track_id", "auth", "order_id",
        "requested_order_id", "refund_order_id", "payment_type", "invoice_id", "transaction_date",
        "receipt_id", "upay_order_id", "trn_udf", "payment_method", "merchant_requested_order_id",
    }
)
#: Legacy V1 spellings (§15) of the same parameters.
_LEGACY = {
    "PaymentID": "payment_id", "Result": "result", "PostDate": "post_date", "TranID": "tran_id",
    "Ref": "ref", "TrackID": "track_id", "Auth": "auth", "OrderID": "order_id",
}
# §9.3: the gateway appends "?payment_id=…" even when the merchant URL already has a query, so a raw "?"
# followed by one of its own keys starts the gateway's part of the query.
_KEY_ALTERNATION = "|".join(sorted(GATEWAY_KEYS | set(_LEGACY), key=len, reverse=True))
_QUIRK = re.compile(rf"\?(?=(?:{_KEY_ALTERNATION})=)")
#: Largest webhook body we read.
MAX_NOTIFICATION_BYTES = 64 * 1024
#: Deepest JSON nesting we parse (the gateway's notification is an object with one optional ``data`` object).
MAX_JSON_DEPTH = 16
#: What a gateway id (track id, invoice id) or our order id can look like; anything else names nothing.
GATEWAY_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def parse_redirect(url_or_query: str) -> RedirectParams:
    """Parse a full return URL, or just its query string (with or without the leading ``?``)."""
    return _from_pairs(parse_qsl(_query_of(url_or_query), keep_blank_values=True))


class UnreadableNotification(ValueError):
    """A webhook body that cannot be read as the gateway's notification (whatever was wrong with it)."""


def parse_notification(body: bytes, content_type: str | None, query: str = "") -> RedirectParams:
    """Parse a webhook: its query string and its body, form-encoded (§16 A9, what the plugins read) or JSON.

    §18 F5: the plugins read the fields wherever they come (``$_REQUEST``, ``getParams()``, OpenCart only
    ``$_GET``), so the query string counts as much as the body; where both name a field, the body wins.
    Raises :class:`UnreadableNotification` (a ValueError) and nothing else, whatever the body: anyone can post
    one, so nesting is bounded before parsing and any other failure of the parsers is converted here.
    """
    try:
        return _parse_notification(body, content_type, query)
    except UnreadableNotification:
        raise
    except Exception as exc:  # the body is attacker-controlled: no parser error may escape as a crash
        raise UnreadableNotification(f"Notification body could not be read ({type(exc).__name__}).") from None


def _parse_notification(body: bytes, content_type: str | None, query: str) -> RedirectParams:
    if len(body) + len(query) > MAX_NOTIFICATION_BYTES:
        raise UnreadableNotification(f"Notification is larger than {MAX_NOTIFICATION_BYTES} bytes.")
    from_query = parse_qsl(_query_of("?" + query), keep_blank_values=True) if query else []
    text = body.decode("utf-8", errors="replace")
    if not text.strip():
        return _from_pairs(from_query)
    is_json = "json" in (content_type or "").lower() or text.lstrip().startswith(("{", "["))
    if not is_json:
        return _from_pairs(from_query + parse_qsl(_query_of(text), keep_blank_values=True))
    _check_depth(text)
    try:
        # numbers stay text: no float rounding, no int-conversion limit on absurd digit strings
        payload = json.loads(text, parse_int=str, parse_float=str, parse_constant=_no_constant)
    except ValueError:
        raise UnreadableNotification("Notification body is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise UnreadableNotification("Notification JSON is not an object.")
    if isinstance(payload.get("data"), dict) and not GATEWAY_KEYS & payload.keys():
        payload = payload["data"]
    pairs = [(str(k), s) for k, v in payload.items() if (s := _scalar(v)) is not None]
    return _from_pairs(from_query + pairs, raw=dict(from_query) | dict(payload))


def _no_constant(word: str) -> Any:
    raise ValueError(f"{word} is not a JSON value the gateway sends")


def _check_depth(text: str) -> None:
    """Refuse JSON nested deeper than ``MAX_JSON_DEPTH`` before the recursive parser sees it."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise UnreadableNotification(f"Notification JSON is nested deeper than {MAX_JSON_DEPTH} levels.")
        elif char in "]}":
            depth -= 1


def _scalar(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, int | float | str):
        return str(value)
    return None


def _query_of(text: str) -> str:
    s = text.strip().split("#", 1)[0]
    if s.startswith("?"):
        s = s[1:]
    elif "?" in s:
        head, tail = s.split("?", 1)
        # A query string with the quirk has "=" before its first "?"; a URL's path does not.
        if "://" in head or "=" not in head:
            s = tail
    elif "://" in s or "=" not in s:
        return ""
    return _QUIRK.sub("&", s)


def _from_pairs(pairs: list[tuple[str, str]], raw: dict[str, Any] | None = None) -> RedirectParams:
    merged: dict[str, str] = {}
    merchant: dict[str, str] = {}
    for key, value in pairs:
        name = _LEGACY.get(key, key)
        if name in GATEWAY_KEYS:
            merged[name] = value  # the gateway appends after the merchant's params: last one wins
        else:
            merchant.setdefault(key, value)
            merged.setdefault(key, value)

    def get(*names: str) -> str | None:
        return next((merged[n].strip() for n in names if merged.get(n, "").strip()), None)

    return RedirectParams(
        merchant_order_id=get("requested_order_id", "order_id", "merchant_requested_order_id"),
        upay_order_id=get("refund_order_id", "receipt_id", "upay_order_id"),
        track_id=get("track_id"),
        payment_id=get("payment_id"),
        result=normalise_result(get("result")),
        payment_type=get("payment_type"),
        method=method_from(get("payment_method"), get("payment_type")),
        invoice_id=get("invoice_id"),
        transaction_at=get("transaction_date"),
        tran_id=get("tran_id"),
        ref=get("ref"),
        auth=get("auth"),
        post_date=get("post_date"),
        trn_udf=get("trn_udf"),
        merchant_params=merchant,
        raw=raw if raw is not None else merged,
    )
