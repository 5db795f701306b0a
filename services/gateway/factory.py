"""One gateway client per process: built from settings, shared by pages, webhooks, landings and the sync.

Every status look-up the process makes goes through that one client's limiter (§1.6: 30 a minute), so the
client is built once here and handed out; a test or benchmark may register its own.
"""

from __future__ import annotations

import threading
from typing import Protocol

from pydantic import SecretStr

from services.gateway.client import UPaymentsClient


class GatewaySettings(Protocol):
    """The part of ``dashboard.settings.Settings`` a gateway client is built from."""

    gateway_url: str
    gateway_token: SecretStr
    gateway_timeout_seconds: float
    status_rate_per_minute: int


_client_lock = threading.Lock()
_registered: UPaymentsClient | None = None
_built: dict[tuple[str, str, float, int], UPaymentsClient] = {}


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
               settings.status_rate_per_minute)
        client = _built.get(key)
        if client is None:
            client = _built[key] = build_client(settings)
        return client


def build_client(settings: GatewaySettings) -> UPaymentsClient:
    """A new client from settings (the caller closes it)."""
    return UPaymentsClient(settings.gateway_url, settings.gateway_token, timeout=settings.gateway_timeout_seconds,
                           status_rate_per_minute=settings.status_rate_per_minute)
