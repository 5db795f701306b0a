"""The page registry: which page each role sees (built from the permission matrix, not a second list)."""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.i18n import N_, _
from services.permissions import MATRIX, Action, Actor, Role


@dataclass(frozen=True)
class PageSpec:
    """A page; ``title`` and ``section`` are English msgids, shown through ``_()``."""

    path: str
    title: str
    icon: str
    url_path: str
    needs: Action
    section: str


PAGES: tuple[PageSpec, ...] = (
    PageSpec("pages/links.py", N_("Payment links"), ":material/link:", "links", Action.VIEW_LINKS, N_("Sell")),
    PageSpec("pages/transactions.py", N_("Transactions"), ":material/receipt_long:", "transactions",
             Action.VIEW_TRANSACTIONS, N_("Money")),
    PageSpec("pages/refunds.py", N_("Refunds"), ":material/undo:", "refunds", Action.VIEW_REFUNDS, N_("Money")),
    PageSpec("pages/customers.py", N_("Customers"), ":material/person_search:", "customers", Action.VIEW_CUSTOMERS,
             N_("Sell")),
    PageSpec("pages/reconciliation.py", N_("Reconciliation"), ":material/sync_problem:", "reconciliation",
             Action.RECONCILE, N_("Money")),
    PageSpec("pages/settlements.py", N_("Settlements"), ":material/account_balance:", "settlements",
             Action.VIEW_SETTLEMENTS, N_("Money")),
    PageSpec("pages/analytics.py", N_("Analytics"), ":material/monitoring:", "analytics", Action.VIEW_ANALYTICS,
             N_("Insight")),
    PageSpec("pages/webhooks.py", N_("Webhook inbox"), ":material/inbox:", "webhooks", Action.VIEW_WEBHOOKS,
             N_("Admin")),
    PageSpec("pages/staff.py", N_("Staff & roles"), ":material/group:", "staff", Action.MANAGE_STAFF, N_("Admin")),
    PageSpec("pages/audit.py", N_("Audit log"), ":material/policy:", "audit", Action.VIEW_AUDIT, N_("Admin")),
)


def pages_for(actor: Actor) -> list[PageSpec]:
    """The pages ``actor``'s role may open, in menu order."""
    return [spec for spec in PAGES if actor.can(spec.needs)]


def roles_for(spec: PageSpec) -> list[Role]:
    """The roles whose matrix opens ``spec`` (from the permission matrix, in matrix order)."""
    return [role for role, actions in MATRIX.items() if spec.needs in actions]


ROLE_NAMES = {Role.ADMIN: N_("admins"), Role.FINANCE: N_("finance"), Role.SALES: N_("sales"),
              Role.VIEWER: N_("viewers")}


def refusal_text(spec: PageSpec) -> str:
    """What a person reads on a page their role may not open (a bookmark, a link from a colleague)."""
    roles = [_(ROLE_NAMES[r]) for r in roles_for(spec) if r != Role.ADMIN] + [_(ROLE_NAMES[Role.ADMIN])]
    who = roles[0] if len(roles) == 1 else _(", ").join(roles[:-1]) + _(" and ") + roles[-1]
    return _("{page} is for {who} — ask an admin for access.").format(page=_(spec.title), who=who)
