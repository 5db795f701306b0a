"""The process's app context, without Streamlit: settings, the database engine and the gateway client.

One of each per process. The webhook and landing routes, server start-up, the background sync and (through
``dashboard.state``) the pages all ask here, so the gateway client and its status limiter have one lifecycle.
Tests that change the environment call :func:`reset`.
"""

from __future__ import annotations

from functools import cache

from sqlalchemy.engine import Engine

from dashboard.settings import Settings, load_settings
from services import policy
from services.db import shared_engine
from services.gateway import UPaymentsClient
from services.gateway.factory import shared_client
from services.policy import Policy


@cache
def settings() -> Settings:
    """The app's settings, read once per process; the shop's rules (:mod:`services.policy`) are set from them."""
    loaded = load_settings()
    policy.configure(Policy(refund_approval_threshold_fils=loaded.refund_approval_threshold_fils))
    return loaded


def engine() -> Engine:
    """The process's engine for the configured database (one pool, schema at head)."""
    return shared_engine(settings().database_url)


def client() -> UPaymentsClient:
    """The process's gateway client (a registered one wins), so one limiter counts every status look-up."""
    return shared_client(settings())


def reset() -> None:
    """Forget the settings read so far and their rules (tests set new environment variables, then call this)."""
    settings.cache_clear()
    policy.configure(policy.DEFAULT)
