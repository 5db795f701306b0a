"""CSV export of a transaction search: streamed in chunks with bounded memory, audited, spreadsheet-safe.

A browser download cannot come out of a Streamlit rerun without the whole file sitting in memory, so the page
asks for a **ticket** (:func:`issue_ticket`): a short-lived, single-use, signed token naming the staff member and
the filter. The app's ``/export/transactions.csv`` route redeems it (:func:`redeem_ticket`, which re-checks that
the person is still staff with the export permission) and streams :func:`export_csv` to the browser. The audit
row is written when the last row has been produced, with the row count; a failed or abandoned download leaves
no audit entry claiming an export that never reached anyone.

The header row's language is chosen per export and travels in the signed ticket (``en``: the stable column names
of :data:`COLUMNS`, which scripts read; ``ar``: :data:`COLUMN_LABELS` in Arabic). This module stays English: the
dashboard translates the labels and passes the header row in (``header=``).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import json
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import IO, NamedTuple

from sqlalchemy.engine import Engine

from services import audit
from services.db import session_scope
from services.money import format_amount
from services.permissions import Action, Actor, authorize, require
from services.privacy import shield
from services.search.filters import SearchFilter, filter_from_query, filter_to_query
from services.search.query import PaymentRow, iter_rows
from services.sentence import N_, say
from services.staff import resolve_actor
from services.timeutil import as_utc, to_kuwait

#: Header of the CSV, in order. Amounts in major units with the currency's decimals (12.500 for KWD). ``status`` is
#: the word the list shows (``partially_refunded``/``refunded`` for refunded paid payments, services.refund_state).
COLUMNS = (
    "created_kuwait", "created_utc", "order_id", "status", "amount", "currency", "refunded", "refund_pending",
    "method",
    "method_family", "customer_name", "customer_phone", "customer_email", "description", "track_id", "payment_id",
    "reference", "upay_order_id", "paid_kuwait", "paid_utc", "created_by", "source",
)
#: Each column in words, for a header in the staff member's language (translated by the dashboard).
COLUMN_LABELS = {
    "created_kuwait": N_("Created (Kuwait time)"), "created_utc": N_("Created (UTC)"), "order_id": N_("Order id"),
    "status": N_("Status"), "amount": N_("Amount"), "currency": N_("Currency"), "refunded": N_("Refunded"),
    "refund_pending": N_("Refund pending"), "method": N_("Method"), "method_family": N_("Method family"),
    "customer_name": N_("Customer name"), "customer_phone": N_("Customer mobile"),
    "customer_email": N_("Customer e-mail"), "description": N_("Description"), "track_id": N_("Track id"),
    "payment_id": N_("Payment id"), "reference": N_("Reference"), "upay_order_id": N_("UPayments order id"),
    "paid_kuwait": N_("Paid (Kuwait time)"), "paid_utc": N_("Paid (UTC)"), "created_by": N_("Created by"),
    "source": N_("Source"),
}
#: Header languages a ticket may carry: ``en`` is the stable column names, ``ar`` the labels in Arabic.
HEADER_LANGUAGES = ("en", "ar")
CHUNK_ROWS = 1000
# A spreadsheet runs a cell starting with one of these as a formula (CSV/formula injection, OWASP).
_FORMULA_START = frozenset("=+-@\t\r")


def neutralise(value: str) -> str:
    """``'``-prefix a cell a spreadsheet would read as a formula; anything else unchanged."""
    return "'" + value if value and value[0] in _FORMULA_START else value


def _kuwait(value: datetime | None) -> str:
    return to_kuwait(value).isoformat(" ", "seconds")[:19] if value else ""  # isoformat: 4x strftime's speed


def _utc(value: datetime | None) -> str:
    return as_utc(value).isoformat("T", "seconds")[:19] + "Z" if value else ""


def _cells(row: PaymentRow) -> list[str]:
    values = [
        _kuwait(row.created_at), _utc(row.created_at), row.order_id, row.status_word,
        format_amount(row.amount_fils, row.currency), row.currency, format_amount(row.refunded_fils, row.currency),
        format_amount(row.refund_pending_fils, row.currency),
        row.method or "", row.method_family or "", row.customer_name or "", row.customer_phone or "",
        row.customer_email or "", row.description or "", row.track_id or "", row.payment_id or "",
        row.reference or "", row.upay_order_id or "", _kuwait(row.paid_at), _utc(row.paid_at),
        row.created_by or "", row.source,
    ]
    return [neutralise(value) for value in values]


def _generate(engine: Engine, flt: SearchFilter, actor: Actor, header: Sequence[str]) -> Iterator[tuple[str, int]]:
    """(CSV text, rows in it) chunks, header first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralise(str(cell)) for cell in header])
    pending = 0
    for row in iter_rows(engine, flt, sort="created_at", descending=False):
        writer.writerow(_cells(shield(actor, row)))  # contact data masked for roles that may not see it
        pending += 1
        if pending >= CHUNK_ROWS:
            yield buffer.getvalue(), pending
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue(), pending


def export_csv(engine: Engine, actor: Actor, flt: SearchFilter, *, header: Sequence[str] = COLUMNS,
               out: IO[str] | None = None) -> Iterator[str]:
    """The payments matching ``flt`` as CSV text chunks (about 1,000 rows each), oldest first.

    ``header`` is the first row: :data:`COLUMNS` (default) or those columns in words, one per column, in order.

    Permission is checked at the call. Rows stream from one read snapshot, so memory stays flat at a million rows.
    The audit row (``export_transactions``, after={filter, rows}) is committed once the last chunk has been
    produced; an export that breaks off or is never read is not audited. With ``out`` the whole CSV is written
    there before returning, and the returned iterator is empty.
    No raw gateway payloads or secrets are exported; cells that a spreadsheet would run are neutralised.
    """
    if len(header) != len(COLUMNS) or len(set(header)) != len(COLUMNS):
        raise ValueError(f"the header needs {len(COLUMNS)} distinct names, one per column")
    actor = authorize(engine, actor, Action.EXPORT_TRANSACTIONS)
    chunks = _audited(engine, actor, flt, header)
    if out is None:
        return chunks
    for chunk in chunks:
        out.write(chunk)
    return iter(())


def _audited(engine: Engine, actor: Actor, flt: SearchFilter, header: Sequence[str]) -> Iterator[str]:
    rows = 0
    for text, count in _generate(engine, flt, actor, header):
        rows += count
        yield text
    with session_scope(engine) as session:
        audit.record(session, actor=actor.email, action="export_transactions",
                     after={"filter": filter_to_query(flt), "rows": rows})


class ExportRefused(ValueError):
    """A download ticket that cannot be redeemed; ``str()`` says why and what to do."""


#: How long a download link stays valid after the person pressed "Export CSV".
TICKET_SECONDS = 1800
# Signed with a key of this process: a ticket is redeemed by the server that issued it (the page and the export
# route run in the same process; several servers keep a person on one server with sticky sessions).
_KEY = secrets.token_bytes(32)
_used: dict[str, float] = {}
_used_lock = threading.Lock()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Redeemed(NamedTuple):
    """What a valid ticket grants: who exports (as they are now), which payments, the header's language."""

    actor: Actor
    filter: SearchFilter
    header_language: str


def issue_ticket(actor: Actor, flt: SearchFilter, *, header_language: str = "en", now: float | None = None) -> str:
    """A single-use download ticket for ``actor`` and ``flt``, valid for :data:`TICKET_SECONDS`; the file's header
    row in ``header_language`` (one of :data:`HEADER_LANGUAGES`)."""
    require(actor, Action.EXPORT_TRANSACTIONS)
    if header_language not in HEADER_LANGUAGES:
        raise ValueError(f"header language must be one of {', '.join(HEADER_LANGUAGES)}")
    payload = {"e": actor.email, "q": filter_to_query(flt), "x": int((now or time.time()) + TICKET_SECONDS),
               "n": secrets.token_urlsafe(12), "h": header_language}
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_b64(hmac.new(_KEY, body.encode(), hashlib.sha256).digest())}"


def redeem_ticket(engine: Engine, token: str, *, now: float | None = None) -> Redeemed:
    """The staff member (as they are now), filter and header language of a valid ticket; marks it used. Raises
    ExportRefused."""
    moment = now or time.time()
    body, _, signature = (token or "").partition(".")
    try:
        expected = hmac.new(_KEY, body.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(signature)):
            raise ValueError("bad signature")
        payload = json.loads(_unb64(body))
        email, query, expires, nonce = str(payload["e"]), dict(payload["q"]), int(payload["x"]), str(payload["n"])
        header_language = str(payload.get("h", "en"))
        if header_language not in HEADER_LANGUAGES:
            raise ValueError("unknown header language")
    except Exception:  # anything malformed or forged reads the same to the caller
        raise ExportRefused(say("This download link is not valid; press “Export CSV” on the Transactions page "
                            "again.")) from None
    if moment > expires:
        raise ExportRefused(say("This download link has expired; press “Export CSV” on the Transactions page again."))
    with _used_lock:
        for old in [n for n, until in _used.items() if until < moment]:
            del _used[old]
        if nonce in _used:
            raise ExportRefused(say("This download link was already used; press “Export CSV” on the Transactions page "
                                "for a new one."))
        _used[nonce] = float(expires)
    actor = resolve_actor(engine, email)
    if actor is None or not actor.can(Action.EXPORT_TRANSACTIONS):
        raise ExportRefused(say("Your access no longer allows exporting transactions; ask an admin."))
    return Redeemed(actor, filter_from_query(query), header_language)
