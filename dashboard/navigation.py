"""The page registry: which page each role sees (built from the permission matrix, not a second list)."""

from __future__ import annotations

from dataclasses import dataclass

from services.permissions import MATRIX, Action, Actor, Role


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
    PageSpec("pages/customers.py", "Customers", ":material/person_search:", "customers", Action.VIEW_CUSTOMERS,
             "Sell"),
    PageSpec("pages/reconciliation.py", "Reconciliation", ":material/sync_problem:", "reconciliation",
             Action.RECONCILE, "Money"),
    PageSpec("pages/settlements.py", "Settlements", ":material/account_balance:", "settlements",
             Action.VIEW_SETTLEMENTS, "Money"),
    PageSpec("pages/analytics.py", "Analytics", ":material/monitoring:", "analytics", Action.VIEW_ANALYTICS,
             "Insight"),
    PageSpec("pages/webhooks.py", "Webhook inbox", ":material/inbox:", "webhooks", Action.VIEW_WEBHOOKS, "Admin"),
    PageSpec("pages/staff.py", "Staff & roles", ":material/group:", "staff", Action.MANAGE_STAFF, "Admin"),
    PageSpec("pages/audit.py", "Audit log", ":material/policy:", "audit", Action.VIEW_AUDIT, "Admin"),
)


def pages_for(actor: Actor) -> list[PageSpec]:
    """The pages ``actor``'s role may open, in menu order."""
    return [spec for spec in PAGES if actor.can(spec.needs)]


def roles_for(spec: PageSpec) -> list[Role]:
    """The roles whose matrix opens ``spec`` (from the permission matrix, in matrix order)."""
    return [role for role, actions in MATRIX.items() if spec.needs in actions]


def refusal_text(spec: PageSpec) -> str:
    """What a person reads on a page their role may not open (a bookmark, a link from a colleague)."""
    names = {Role.ADMIN: "admins", Role.FINANCE: "finance", Role.SALES: "sales", Role.VIEWER: "viewers"}
    roles = [names[r] for r in roles_for(spec) if r != Role.ADMIN] + ["admins"]
    who = roles[0] if len(roles) == 1 else ", ".join(roles[:-1]) + " and " + roles[-1]
    return f"{spec.title} is for {who} — ask an admin for access."
