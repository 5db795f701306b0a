"""The page registry: which page each role sees (built from the permission matrix, not a second list)."""

from __future__ import annotations

from dataclasses import dataclass

from services.permissions import Action, Actor


@dataclass(frozen=True)
class PageSpec:
    path: str
    title: str
    icon: str
    url_path: str
    needs: Action
    section: str


PAGES: tuple[PageSpec, ...] = (
    PageSpec("pages/links.py", "Payment links", ":material/link:", "links", Action.VIEW_LINKS, "Sell"),
    PageSpec("pages/transactions.py", "Transactions", ":material/receipt_long:", "transactions",
             Action.VIEW_TRANSACTIONS, "Money"),
    PageSpec("pages/refunds.py", "Refunds", ":material/undo:", "refunds", Action.VIEW_REFUNDS, "Money"),
    PageSpec("pages/reconciliation.py", "Reconciliation", ":material/sync_problem:", "reconciliation",
             Action.RECONCILE, "Money"),
    PageSpec("pages/analytics.py", "Analytics", ":material/monitoring:", "analytics", Action.VIEW_ANALYTICS,
             "Insight"),
    PageSpec("pages/webhooks.py", "Webhook inbox", ":material/inbox:", "webhooks", Action.VIEW_WEBHOOKS, "Admin"),
    PageSpec("pages/staff.py", "Staff & roles", ":material/group:", "staff", Action.MANAGE_STAFF, "Admin"),
    PageSpec("pages/audit.py", "Audit log", ":material/policy:", "audit", Action.VIEW_AUDIT, "Admin"),
)


def pages_for(actor: Actor) -> list[PageSpec]:
    """The pages ``actor``'s role may open, in menu order."""
    return [spec for spec in PAGES if actor.can(spec.needs)]
