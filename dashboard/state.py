"""What pages ask for: settings, engine, gateway client (from :mod:`dashboard.runtime`) and the acting staff member.

The process-wide objects live in :mod:`dashboard.runtime` (no Streamlit), shared with the routes and the
background sync; this module adds the once-per-process bootstrap and the logged-in person.
"""

from __future__ import annotations

import logging

import streamlit as st
from sqlalchemy.engine import Engine

from dashboard import runtime
from dashboard.i18n import _
from dashboard.settings import Settings
from services.gateway import UPaymentsClient
from services.permissions import Action, Actor, PermissionDenied
from services.search import ensure_search_support
from services.sentence import say
from services.staff import bootstrap_admins, resolve_actor

log = logging.getLogger(__name__)


def settings() -> Settings:
    """The app's settings (read once per process)."""
    return runtime.settings()


@st.cache_resource(show_spinner=False)
def _engine(url: str, admins: tuple[str, ...]) -> Engine:
    engine = runtime.engine()  # the same engine (one pool) as the webhook routes and the background sync
    ensure_search_support(engine)  # summary table, text index and triggers; built once, before the first page view
    bootstrap_admins(engine, list(admins))
    return engine


def engine() -> Engine:
    """The database engine (one per process, shared by all sessions)."""
    cfg = settings()
    return _engine(cfg.database_url, tuple(cfg.admins))


def gateway() -> UPaymentsClient:
    """The UPayments client: one per process (:func:`dashboard.runtime.client`), shared with webhooks and the
    background sync, so one rate limiter counts every status look-up the process makes."""
    return runtime.client()


def actor() -> Actor:
    """The logged-in staff member; stops the page with a polite message when there is none."""
    found = current_actor()
    if found is None:
        st.warning(_("You need to be logged in with a staff account to see this page."))
        st.stop()
    return found


def actor_at_click(action: Action) -> Actor:
    """The staff member as they are at this click. A callback runs before the page does, so the page's ``actor``
    is the previous run's: callbacks ask here (the services re-check the role, too)."""
    found = current_actor()
    if found is None:
        raise PermissionDenied(None, action, say("Your access was removed by an admin; reload the page."))
    return found


def current_actor() -> Actor | None:
    """The staff member for the verified login, re-read from the database on every rerun (not the cookie)."""
    if not st.user.get("is_logged_in", False):
        return None
    email = st.user.get("email")
    name = st.user.get("name")
    return resolve_actor(engine(), str(email) if email else None, str(name) if name else None)
