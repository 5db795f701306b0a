"""Audit log: append-only and hash-chained, so that editing or deleting a row is detected by :func:`verify`.

Each row's hash covers its own content and the previous row's hash. Rows are written inside the caller's
transaction (the same one that makes the change), so an action and its audit row land together or not at all.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services import inputs
from services.db import read_session, session_scope
from services.models import AuditEntry
from services.permissions import Action, Actor, authorize
from services.sentence import N_, phrase, say
from services.timeutil import as_utc, utcnow

GENESIS_HASH = "0" * 64
_AUDIT_LOCK_KEY = 20_261_124  # any constant shared by all writers


def _canonical(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def _row_hash(
    prev_hash: str, seq: int, at: datetime, actor: str, action: str, target: str | None, before: str | None,
    after: str | None,
) -> str:
    material = json.dumps(
        [prev_hash, seq, as_utc(at).isoformat(), actor, action, target, before, after],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(material.encode()).hexdigest()


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    target: str | None = None,
    before: Any = None,
    after: Any = None,
) -> AuditEntry:
    """Append one audit row in ``session``'s transaction (the caller commits)."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        # Serialise writers so two transactions can't read the same last seq (SQLite gets this from BEGIN IMMEDIATE).
        session.exec(text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=_AUDIT_LOCK_KEY))  # type: ignore[call-overload]
    last = session.exec(select(AuditEntry).order_by(col(AuditEntry.seq).desc()).limit(1)).first()
    seq = (last.seq + 1) if last else 1
    prev_hash = last.hash if last else GENESIS_HASH
    now = utcnow()
    at = now.replace(microsecond=now.microsecond // 1000 * 1000)  # survives every database's precision
    before_json, after_json = _canonical(before), _canonical(after)
    entry = AuditEntry(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        target=target,
        before=before_json,
        after=after_json,
        prev_hash=prev_hash,
        hash=_row_hash(prev_hash, seq, at, actor, action, target, before_json, after_json),
    )
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str | None = None


def verify(engine: Engine, actor: Actor | None = None) -> VerifyResult:
    """Walk the chain from the first row; report the first row whose hash or link does not match."""
    if actor is not None:
        actor = authorize(engine, actor, Action.VIEW_AUDIT)
    prev_hash = GENESIS_HASH
    expected_seq = 1
    checked = 0
    with read_session(engine) as session:
        for entry in session.exec(select(AuditEntry).order_by(col(AuditEntry.seq))):
            if entry.seq != expected_seq:
                return VerifyResult(False, checked, expected_seq, say("row {seq} is missing", seq=expected_seq))
            if entry.prev_hash != prev_hash:
                return VerifyResult(False, checked, entry.seq, say("row {seq} does not link to the row before",
                                                                           seq=entry.seq))
            recomputed = _row_hash(
                prev_hash, entry.seq, entry.at, entry.actor, entry.action, entry.target, entry.before, entry.after
            )
            if recomputed != entry.hash:
                return VerifyResult(False, checked, entry.seq, say("row {seq} was changed after it was written",
                                                                           seq=entry.seq))
            prev_hash = entry.hash
            expected_seq += 1
            checked += 1
    return VerifyResult(True, checked)


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class AuditFilterError(ValueError):
    """An audit filter or page that is not one (wrong type, control characters, absurd paging)."""


def _checked(flt: AuditFilter | None, limit: int = 1, offset: int = 0) -> AuditFilter:
    """The filter, refused with one sentence when a value is not what the audit page can send."""
    flt = flt or AuditFilter()
    if not isinstance(flt, AuditFilter):
        raise AuditFilterError(say("The audit filter is not one; reload the page."))
    for what, value in ((N_("person filter"), flt.actor), (N_("action filter"), flt.action),
                        (N_("target filter"), flt.target)):
        problem = inputs.bad_text(value, what, max_len=255)
        if problem:
            raise AuditFilterError(problem)
    for what, when in ((N_("The start of the period must be a date and time."), flt.since),
                       (N_("The end of the period must be a date and time."), flt.until)):
        if when is not None and not isinstance(when, datetime):
            raise AuditFilterError(phrase(what))
    for number in (limit, offset):
        if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= 10**6:
            raise AuditFilterError(say("The page of audit rows asked for does not exist."))
    return flt


def _filtered(flt: AuditFilter) -> Any:
    stmt = select(AuditEntry)
    if flt.actor:
        stmt = stmt.where(col(AuditEntry.actor) == flt.actor.lower())
    if flt.action:
        stmt = stmt.where(col(AuditEntry.action) == flt.action)
    if flt.target:
        stmt = stmt.where(col(AuditEntry.target).contains(flt.target))
    if flt.since:
        stmt = stmt.where(col(AuditEntry.at) >= flt.since)
    if flt.until:
        stmt = stmt.where(col(AuditEntry.at) < flt.until)
    return stmt


def list_entries(
    engine: Engine, actor: Actor, flt: AuditFilter | None = None, *, limit: int = 200, offset: int = 0
) -> tuple[list[AuditEntry], int]:
    """A page of audit rows, newest first, and the total count for the filter."""
    actor = authorize(engine, actor, Action.VIEW_AUDIT)
    stmt = _filtered(_checked(flt, limit, offset))
    with read_session(engine) as session:
        total = session.exec(select(func.count()).select_from(stmt.subquery())).one()
        rows = session.exec(stmt.order_by(col(AuditEntry.seq).desc()).offset(offset).limit(limit)).all()
    return list(rows), int(total)


def iter_for_export(engine: Engine, actor: Actor, flt: AuditFilter | None = None) -> Iterator[AuditEntry]:
    """All rows matching ``flt`` in chain order, for CSV export (the export itself is audited by the caller)."""
    actor = authorize(engine, actor, Action.EXPORT_AUDIT)
    checked = _checked(flt)
    with read_session(engine) as session:
        yield from session.exec(_filtered(checked).order_by(col(AuditEntry.seq)).execution_options(
            yield_per=1000
        ))


def distinct_actions(engine: Engine) -> list[str]:
    """Action names present in the log (for a filter select box)."""
    with read_session(engine) as session:
        return sorted(session.exec(select(AuditEntry.action).distinct()).all())


_CSV_COLUMNS = ("seq", "at_utc", "actor", "action", "target", "before", "after", "prev_hash", "hash")


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run as a formula (leading = + - @ tab CR get a quote)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(("=", "+", "-", "@", "\t", "\r")) else text


def csv_line(values: list[object]) -> str:
    """One CSV line (CRLF) of formula-safe cells (also used by the refunds export)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow([_cell(v) for v in values])
    return buf.getvalue()


def audited_stream(engine: Engine, lines: Iterator[str], *, by: str, action: str, target: str,
                   after: dict[str, Any]) -> Iterator[str]:
    """Yield ``lines`` (a header, then one per row), then record ``action`` with the row count: an export is
    audited once its file has been produced, never for an attempt that broke off."""
    rows = -1  # the header is not a row
    for line in lines:
        rows += 1
        yield line
    with session_scope(engine) as session:
        record(session, actor=by, action=action, target=target, after={**after, "rows": max(rows, 0)})


def export_csv(engine: Engine, actor: Actor, flt: AuditFilter | None = None) -> Iterator[str]:
    """The matching rows as CSV lines in chain order (streamed); audited once the file has been produced."""
    actor = authorize(engine, actor, Action.EXPORT_AUDIT)
    flt = _checked(flt)  # refused before the export is audited
    filters = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in vars(flt).items() if v}

    def lines() -> Iterator[str]:
        yield csv_line(list(_CSV_COLUMNS))
        for e in iter_for_export(engine, actor, flt):
            yield csv_line([e.seq, as_utc(e.at).isoformat(), e.actor, e.action, e.target, e.before, e.after,
                             e.prev_hash, e.hash])

    return audited_stream(engine, lines(), by=actor.email, action="audit_exported", target="audit",
                          after={"filters": filters})
