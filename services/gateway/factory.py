"""One gateway client per process: built from settings, shared by pages, webhooks, landings and the sync.

Every status look-up the process makes goes through that one client's limiter (§1.6: 30 a minute), so the
client is built once here and handed out; a test or benchmark may register its own. The limit is the
merchant's, not the server's: on PostgreSQL, where several app servers may share the database, the limiter
keeps its slots in that database (:class:`~services.gateway.shared_limiter.DatabaseLimiter`); on SQLite (one
server) it is the in-process :class:`~services.gateway.limiter.SlidingWindowLimiter`.
"""

from __future__ import annotations

import threading
from typing import Protocol

from pydantic import SecretStr

from services.gateway.client import UPaymentsClient
from services.gateway.limiter import SlidingWindowLimiter


class GatewaySettings(Protocol):
    """The part of ``dashboard.settings.Settings`` a gateway client is built from."""

    gateway_url: str
    gateway_token: SecretStr
    gateway_timeout_seconds: float
    status_rate_per_minute: int


_client_lock = threading.Lock()
_registered: UPaymentsClient | None = None
_built: dict[tuple[str, str, float, int, str], UPaymentsClient] = {}


def register_client(client: UPaymentsClient) -> None:
    """Make ``client`` the process's client, so webhooks, pages and the background sync share one limiter."""
    global _registered
    with _client_lock:
        _registered = client


def shared_client(settings: GatewaySettings) -> UPaymentsClient:
    """The registered client, else one built from ``settings`` (cached per process)."""
    with _client_lock:
        if _registered is not None:
            return _registered
        key = (settings.gateway_url, settings.gateway_token.get_secret_value(), settings.gateway_timeout_seconds,
               settings.status_rate_per_minute, getattr(settings, "database_url", ""))
        client = _built.get(key)
        if client is None:
            client = _built[key] = build_client(settings)
        return client


def build_client(settings: GatewaySettings) -> UPaymentsClient:
    """A new client from settings (the caller closes it)."""
    return UPaymentsClient(settings.gateway_url, settings.gateway_token, timeout=settings.gateway_timeout_seconds,
                           status_rate_per_minute=settings.status_rate_per_minute,
                           status_limiter=status_limiter_for(getattr(settings, "database_url", None),
                                                             settings.status_rate_per_minute))


def status_limiter_for(database_url: str | None, rate_per_minute: int) -> SlidingWindowLimiter:
    """The merchant's status budget: kept in the database on PostgreSQL (shared by every server), else in this
    process."""
    if database_url and database_url.startswith("postgresql"):
        from services.db import shared_engine
        from services.gateway.shared_limiter import DatabaseLimiter

        return DatabaseLimiter(shared_engine(database_url), rate_per_minute)
    return SlidingWindowLimiter(rate_per_minute, 60.0)
