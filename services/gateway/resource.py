"""The base of every gateway resource (``client.charges``, ``.payments``, ``.refunds``, ``.account``, deposits).

A resource holds the client it belongs to and sends every call through that client's one ``_request``, which
converts failures to :mod:`services.gateway.errors` once, retries only what the policy allows, and takes the
status limiter for look-ups. A new resource (saved cards, settlements) subclasses :class:`Resource`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import UPaymentsClient
    from .limiter import Lane


class Resource:
    """One resource of a :class:`~services.gateway.UPaymentsClient`."""

    def __init__(self, client: UPaymentsClient) -> None:
        self._client = client

    def _request(self, method: str, path: str, *, body: Mapping[str, Any] | None = None,
                 params: Mapping[str, str] | None = None, auth: bool = True, retry: bool = False,
                 limited: bool = False, limiter_timeout: float | None = None,
                 ids: Mapping[str, str | None] | None = None, lane: Lane | None = None) -> dict[str, Any]:
        """The client's one request path (see ``UPaymentsClient._request``)."""
        return self._client._request(method, path, body=body, params=params, auth=auth, retry=retry,
                                     limited=limited, limiter_timeout=limiter_timeout, ids=ids, lane=lane)
