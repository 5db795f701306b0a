"""Staff: who may use the dashboard and with which role. The database, not the login cookie, is authoritative."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services import audit, inputs
from services.db import read_session, session_scope
from services.models import Staff
from services.permissions import Action, Actor, PermissionDenied, Role, authorize
from services.sentence import N_, say
from services.timeutil import utcnow

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class StaffError(ValueError):
    """A staff change that is refused; the message says why."""


def _clean_email(email: object) -> str:
    if email is not None and not isinstance(email, str):
        raise StaffError(say("The e-mail address must be text."))
    cleaned = (email or "").strip().lower()
    if inputs.bad_text(cleaned, N_("e-mail address"), max_len=255) or not _EMAIL.match(cleaned):
        raise StaffError(say("{value} is not a valid e-mail address.", value=inputs.shown(email)))
    return cleaned


def _clean_role(role: str | Role) -> Role:
    try:
        return Role(role)
    except (ValueError, TypeError):
        raise StaffError(say("Unknown role {value}: use admin, finance, sales or viewer.",
                             value=inputs.shown(role))) from None


def resolve_actor(engine: Engine, email: str | None, name: str | None = None) -> Actor | None:
    """The active staff member for a verified e-mail, or None when they have no access."""
    if not email:
        return None
    with read_session(engine) as session:
        row = session.get(Staff, email.strip().lower())
    if row is None or not row.active:
        return None
    return Actor(email=row.email, role=Role(row.role), name=row.name or name)


def bootstrap_admins(engine: Engine, emails: list[str]) -> int:
    """Make the admins named in settings admins (first start, or re-enabled); returns how many were changed."""
    changed = 0
    with session_scope(engine) as session:
        for raw in emails:
            email = _clean_email(raw)
            row = session.get(Staff, email)
            if row is not None and row.active and row.role == Role.ADMIN:
                continue
            before = {"role": row.role, "active": row.active} if row else None
            if row is None:
                row = Staff(email=email, role=Role.ADMIN, added_by="settings")
            row.role, row.active, row.updated_at = Role.ADMIN, True, utcnow()
            session.add(row)
            audit.record(session, actor="settings", action="staff_bootstrap_admin", target=email, before=before,
                         after={"role": "admin", "active": True})
            changed += 1
    return changed


def list_staff(engine: Engine, actor: Actor, *, include_inactive: bool = False) -> list[Staff]:
    """Everyone on the staff list, admins first."""
    actor = authorize(engine, actor, Action.MANAGE_STAFF)
    with read_session(engine) as session:
        stmt = select(Staff)
        if not include_inactive:
            stmt = stmt.where(col(Staff.active).is_(True))
        rows = session.exec(stmt.order_by(col(Staff.role), col(Staff.email))).all()
    return list(rows)


def _active_admins(session: Session) -> int:
    stmt = select(func.count()).select_from(Staff).where(col(Staff.role) == Role.ADMIN, col(Staff.active).is_(True))
    return int(session.exec(stmt).one())


def add_staff(engine: Engine, actor: Actor, *, email: str, role: str | Role, name: str | None = None) -> Staff:
    """Give a person access with a role (re-activates a removed person)."""
    actor = authorize(engine, actor, Action.MANAGE_STAFF)
    email, new_role = _clean_email(email), _clean_role(role)
    name = inputs.text(name, StaffError, N_("name"), max_len=255) or None
    with session_scope(engine) as session:
        row = session.get(Staff, email)
        if row is not None and row.active:
            raise StaffError(say("{email} is already on the staff list (role {role}); change the role instead.",
                                 email=email, role=row.role))
        before = {"role": row.role, "active": row.active} if row else None
        if row is None:
            row = Staff(email=email, role=new_role, name=name, added_by=actor.email)
        row.role, row.active, row.name, row.updated_at = new_role, True, name or row.name, utcnow()
        session.add(row)
        audit.record(session, actor=actor.email, action="staff_added", target=email, before=before,
                     after={"role": new_role.value, "active": True, "name": row.name})
    return row


def change_role(engine: Engine, actor: Actor, *, email: str, role: str | Role) -> Staff:
    """Change a person's role; the last active admin cannot be demoted."""
    actor = authorize(engine, actor, Action.MANAGE_STAFF)
    email, new_role = _clean_email(email), _clean_role(role)
    with session_scope(engine) as session:
        row = session.get(Staff, email)
        if row is None or not row.active:
            raise StaffError(say("{email} is not on the staff list.", email=email))
        if row.role == new_role:
            return row
        if row.role == Role.ADMIN and _active_admins(session) <= 1:
            raise StaffError(say("This is the last admin: make someone else admin first."))
        before = {"role": row.role}
        row.role, row.updated_at = new_role, utcnow()
        session.add(row)
        audit.record(session, actor=actor.email, action="staff_role_changed", target=email, before=before,
                     after={"role": new_role.value})
    return row


def remove_staff(engine: Engine, actor: Actor, *, email: str) -> None:
    """Take away a person's access (kept as inactive for the audit trail); never the last admin."""
    actor = authorize(engine, actor, Action.MANAGE_STAFF)
    email = _clean_email(email)
    with session_scope(engine) as session:
        row = session.get(Staff, email)
        if row is None or not row.active:
            raise StaffError(say("{email} is not on the staff list.", email=email))
        if row.role == Role.ADMIN and _active_admins(session) <= 1:
            raise StaffError(say("This is the last admin: an admin can't remove the last admin."))
        before = {"role": row.role, "active": True}
        row.active, row.updated_at = False, utcnow()
        session.add(row)
        audit.record(session, actor=actor.email, action="staff_removed", target=email, before=before,
                     after={"active": False})


LANGUAGES = ("en", "ar")
DIGIT_SETS = ("latn", "arab")


@dataclass(frozen=True)
class Preferences:
    """How a staff member reads the dashboard: ``language`` None until their first login picks it."""

    language: str | None
    digits: str


def preferences(engine: Engine, email: str) -> Preferences:
    """The stored language and digits of ``email`` (English / Western digits for an unknown person)."""
    with read_session(engine) as session:
        row = session.get(Staff, email.strip().lower())
    if row is None:
        return Preferences(language=None, digits="latn")
    return Preferences(language=row.language, digits=row.digits or "latn")


def set_preferences(engine: Engine, actor: Actor, *, language: str | None = None,
                    digits: str | None = None) -> Preferences:
    """A person changes their *own* language or digits (no role needed, but they must still be staff).

    Not audited: it changes nothing anyone else sees.
    """
    # Any role may choose its own language: the check is only "still staff, now" (every role views links).
    actor = authorize(engine, actor, Action.VIEW_LINKS)
    if language is not None and language not in LANGUAGES:
        raise StaffError(say("Unknown language {value}: use en or ar.", value=inputs.shown(language)))
    if digits is not None and digits not in DIGIT_SETS:
        raise StaffError(say("Unknown digits {value}: use latn or arab.", value=inputs.shown(digits)))
    with session_scope(engine) as session:
        row = session.get(Staff, actor.email)
        if row is None or not row.active:  # removed between the check and this write
            raise PermissionDenied(actor, Action.VIEW_LINKS,
                                   say("Your access was removed by an admin; reload the page."))
        row.language = language or row.language
        row.digits = digits or row.digits
        session.add(row)
        return Preferences(language=row.language, digits=row.digits)
