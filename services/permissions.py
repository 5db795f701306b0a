"""The one permission matrix. Every service function that reads or changes something checks it here.

Pages hide what a role cannot do, but hiding is not the check: :func:`authorize` is. It re-reads the staff row
at the moment of the call, because a page's actor comes from an earlier rerun (or a button callback's closure)
and the person may have been removed or demoted since. :func:`require` is the pure role check, for code that
has no database.

:data:`SYSTEM` is the background sync, the command line and the customer's return page acting on their own.
No person can be it (it is one object, compared by identity, and ``system`` is not an e-mail address), and a
service accepts it only where it says so (``allow_system=True``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from sqlalchemy.engine import Engine

from services.db import read_session
from services.models import Staff
from services.sentence import N_, Sentence, phrase, say


class Role(StrEnum):
    ADMIN = "admin"
    FINANCE = "finance"
    SALES = "sales"
    VIEWER = "viewer"


class Action(StrEnum):
    VIEW_TRANSACTIONS = "view_transactions"
    EXPORT_TRANSACTIONS = "export_transactions"
    VIEW_ANALYTICS = "view_analytics"
    CREATE_LINK = "create_link"
    VIEW_LINKS = "view_links"
    VIEW_ALL_LINKS = "view_all_links"  # sales see their own links by default and may widen the view
    SHARE_LINK = "share_link"
    REQUEST_REFUND = "request_refund"
    APPROVE_REFUND = "approve_refund"
    CANCEL_REFUND = "cancel_refund"
    VIEW_REFUNDS = "view_refunds"
    EXPORT_REFUNDS = "export_refunds"
    SYNC = "sync"  # poll the gateway, re-sync one payment
    RECONCILE = "reconcile"
    VIEW_WEBHOOKS = "view_webhooks"
    REPROCESS_WEBHOOK = "reprocess_webhook"
    MANAGE_STAFF = "manage_staff"
    VIEW_AUDIT = "view_audit"
    EXPORT_AUDIT = "export_audit"
    VIEW_SETTLEMENTS = "view_settlements"  # deposits per business day; viewers read them
    EXPORT_SETTLEMENTS = "export_settlements"
    MATCH_STATEMENT = "match_statement"  # upload the bank's statement and match it
    VIEW_CUSTOMERS = "view_customers"  # the customers list and page (contact data masked unless REVEAL_CONTACT)
    REVEAL_CONTACT = "reveal_contact"  # see a customer's full mobile number and e-mail
    ASK_SAVE_CARD = "ask_save_card"  # send the add-card link
    VIEW_CARDS = "view_cards"  # list a customer's saved cards (masked numbers)
    REMOVE_CARD = "remove_card"
    CHARGE_CARD = "charge_card"  # charge a saved card (auto-deduct), record the customer's consent
    APPROVE_CARD_CHARGE = "approve_card_charge"  # the second person above the threshold
    SETTLE_CARD_CHARGE = "settle_card_charge"  # settle an uncertain charge: its track id, or "not charged"
    VIEW_GATEWAY_PAYLOAD = "view_gateway_payload"  # the raw JSON UPayments sent about a payment


#: An action in words, inside a refusal ("… may not {action}"); translated where it is shown.
ACTION_WORDS: dict[str, str] = {
    Action.VIEW_TRANSACTIONS: N_("view transactions"),
    Action.EXPORT_TRANSACTIONS: N_("export transactions"),
    Action.VIEW_ANALYTICS: N_("view analytics"),
    Action.CREATE_LINK: N_("create link"),
    Action.VIEW_LINKS: N_("view links"),
    Action.VIEW_ALL_LINKS: N_("view all links"),
    Action.SHARE_LINK: N_("share link"),
    Action.REQUEST_REFUND: N_("request refund"),
    Action.APPROVE_REFUND: N_("approve refund"),
    Action.CANCEL_REFUND: N_("cancel refund"),
    Action.VIEW_REFUNDS: N_("view refunds"),
    Action.EXPORT_REFUNDS: N_("export refunds"),
    Action.SYNC: N_("sync"),
    Action.RECONCILE: N_("reconcile"),
    Action.VIEW_WEBHOOKS: N_("view webhooks"),
    Action.REPROCESS_WEBHOOK: N_("reprocess webhook"),
    Action.MANAGE_STAFF: N_("manage staff"),
    Action.VIEW_AUDIT: N_("view audit"),
    Action.EXPORT_AUDIT: N_("export audit"),
    Action.VIEW_SETTLEMENTS: N_("view settlements"),
    Action.EXPORT_SETTLEMENTS: N_("export settlements"),
    Action.MATCH_STATEMENT: N_("match statement"),
    Action.VIEW_CUSTOMERS: N_("view customers"),
    Action.REVEAL_CONTACT: N_("reveal contact"),
    Action.ASK_SAVE_CARD: N_("ask save card"),
    Action.VIEW_CARDS: N_("view cards"),
    Action.REMOVE_CARD: N_("remove card"),
    Action.CHARGE_CARD: N_("charge card"),
    Action.APPROVE_CARD_CHARGE: N_("approve card charge"),
    Action.VIEW_GATEWAY_PAYLOAD: N_("view gateway payload"),
}
#: A role as a word inside a sentence.
ROLE_WORDS: dict[str, str] = {"admin": N_("admin"), "finance": N_("finance"), "sales": N_("sales"),
                              "viewer": N_("viewer")}


_ALL = frozenset(Action)
_VIEWER = frozenset(
    {Action.VIEW_TRANSACTIONS, Action.VIEW_ANALYTICS, Action.VIEW_LINKS, Action.VIEW_ALL_LINKS, Action.VIEW_REFUNDS,
     Action.VIEW_SETTLEMENTS, Action.VIEW_CUSTOMERS}
)
_SALES = frozenset(
    {
        Action.VIEW_TRANSACTIONS,
        Action.VIEW_LINKS,
        Action.VIEW_ALL_LINKS,
        Action.CREATE_LINK,
        Action.SHARE_LINK,
        Action.SYNC,
        Action.VIEW_CUSTOMERS,
        Action.REVEAL_CONTACT,
        Action.ASK_SAVE_CARD,
    }
)
_FINANCE = frozenset(
    _VIEWER
    | _SALES
    | {
        Action.EXPORT_TRANSACTIONS,
        Action.REQUEST_REFUND,
        Action.APPROVE_REFUND,
        Action.CANCEL_REFUND,
        Action.EXPORT_REFUNDS,
        Action.RECONCILE,
        Action.EXPORT_SETTLEMENTS,
        Action.MATCH_STATEMENT,
        Action.VIEW_CARDS,
        Action.REMOVE_CARD,
        Action.CHARGE_CARD,
        Action.APPROVE_CARD_CHARGE,
        Action.SETTLE_CARD_CHARGE,
        Action.VIEW_GATEWAY_PAYLOAD,
    }
)

#: role → the actions it may perform.
MATRIX: dict[Role, frozenset[Action]] = {
    Role.ADMIN: _ALL,
    Role.FINANCE: _FINANCE,
    Role.SALES: _SALES,
    Role.VIEWER: _VIEWER,
}


@dataclass(frozen=True)
class Actor:
    """The staff member acting: verified e-mail, display name and role."""

    email: str
    role: Role
    name: str | None = None

    def can(self, action: Action) -> bool:
        return allowed(self.role, action)

    @property
    def is_system(self) -> bool:
        """True only for the one :data:`SYSTEM` object, never for an actor built from a staff row."""
        return self is SYSTEM


#: The background sync / CLI / customer return page. Compared by identity: an equal copy is not the system.
SYSTEM: Final[Actor] = Actor(email="system", role=Role.ADMIN, name="Souq Desk (automatic)")


class PermissionDenied(Exception):
    """The acting staff member's role does not allow the action (or they are no longer staff)."""

    def __init__(self, actor: Actor | None, action: Action, reason: Sentence | None = None) -> None:
        self.actor = actor
        self.action = action
        what = phrase(ACTION_WORDS.get(action, action.value.replace("_", " ")))
        if reason is None and actor is not None:
            reason = say("Not allowed: {email} ({role}) may not {action}.", email=actor.email,
                         role=phrase(ROLE_WORDS.get(actor.role, actor.role)), action=what)
        super().__init__(reason or say("Not allowed: an anonymous user may not {action}.", action=what))


def allowed(role: Role | str, action: Action) -> bool:
    """Whether ``role`` may perform ``action``."""
    try:
        return action in MATRIX[Role(role)]
    except ValueError:
        return False


def require(actor: Actor | None, action: Action) -> Actor:
    """Return ``actor`` if it may perform ``action``; raise :class:`PermissionDenied` otherwise."""
    if actor is None or not allowed(actor.role, action):
        raise PermissionDenied(actor, action)
    return actor


def authorize(engine: Engine, actor: Actor | None, action: Action, *, allow_system: bool = False) -> Actor:
    """The actor as they are NOW (fresh role and name from the staff row) if they may perform ``action``.

    Raises :class:`PermissionDenied` when the person was removed, deactivated or given a role without
    ``action`` since their page was loaded, and for :data:`SYSTEM` unless ``allow_system``.
    """
    if actor is None:
        raise PermissionDenied(None, action)
    if actor.is_system:
        if allow_system:
            return actor
        raise PermissionDenied(actor, action, say("Not allowed: this action needs a staff member, not the system."))
    with read_session(engine) as session:
        row = session.get(Staff, actor.email.strip().lower())
    if row is None or not row.active:
        raise PermissionDenied(actor, action, say("Your access was removed by an admin; reload the page."))
    fresh = Actor(email=row.email, role=Role(row.role), name=row.name or actor.name)
    if not fresh.can(action):
        if fresh.role != actor.role:
            raise PermissionDenied(fresh, action, say("Your access was changed by an admin (your role is now {role}); "
                                                      "reload the page.", role=phrase(ROLE_WORDS[fresh.role])))
        raise PermissionDenied(fresh, action)
    return fresh
