"""The one permission matrix. Every service function that reads or changes something checks it here.

Pages hide what a role cannot do, but hiding is not the check: :func:`require` is.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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


_ALL = frozenset(Action)
_VIEWER = frozenset(
    {Action.VIEW_TRANSACTIONS, Action.VIEW_ANALYTICS, Action.VIEW_LINKS, Action.VIEW_ALL_LINKS, Action.VIEW_REFUNDS}
)
_SALES = frozenset(
    {
        Action.VIEW_TRANSACTIONS,
        Action.VIEW_LINKS,
        Action.VIEW_ALL_LINKS,
        Action.CREATE_LINK,
        Action.SHARE_LINK,
        Action.SYNC,
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


class PermissionDenied(Exception):
    """The acting staff member's role does not allow the action."""

    def __init__(self, actor: Actor | None, action: Action) -> None:
        self.actor = actor
        self.action = action
        who = f"{actor.email} ({actor.role})" if actor else "an anonymous user"
        super().__init__(f"Not allowed: {who} may not {action.value.replace('_', ' ')}.")


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
