"""Typed errors of the UPayments client. Every ``str()`` is one sentence with the ids needed to investigate.

::

    GatewayError
    ├── GatewayConnectionError          could not talk to the gateway (DNS, refused, dropped)
    │   └── GatewayTimeout              connect/read/write/pool timeout
    ├── GatewayStatusError              the gateway answered with an HTTP error status
    │   ├── BadRequest                  400
    │   ├── AuthenticationError         401 (missing or wrong API key)
    │   ├── PermissionDeniedByGateway   403 (key not allowed for the feature)
    │   ├── NotFound                    404
    │   ├── ValidationFailed            422 (``.errors``: field → messages)
    │   ├── RateLimited                 429, or our own limiter gave up waiting (``.retry_after``)
    │   └── ServerError                 5xx
    ├── InvalidResponse                 not JSON (HTML: IP not whitelisted?), truncated JSON, wrong shape
    └── BusinessRefusal                 2xx with ``"status": false`` (``.message``)

The token is never part of any message: messages are built only from the method, path, ids and the gateway's
own text (which the client scrubs of the token before raising).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class GatewayError(Exception):
    """Base of every error raised by the UPayments client."""

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        path: str | None = None,
        ids: Mapping[str, str | None] | None = None,
    ) -> None:
        self.message = message
        self.method = method
        self.path = path
        self.ids: dict[str, str] = {k: v for k, v in (ids or {}).items() if v}
        super().__init__(message)

    def _where(self) -> str:
        parts = []
        if self.method and self.path:
            parts.append(f"{self.method} {self.path}")
        parts.extend(f"{k}={v}" for k, v in sorted(self.ids.items()))
        return f" ({', '.join(parts)})" if parts else ""

    def __str__(self) -> str:
        text = self.message.rstrip(".")
        return f"{text}{self._where()}."

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class GatewayConnectionError(GatewayError):
    """The request could not be completed at the transport level."""

    def __init__(self, message: str, *, request_sent: bool, **where: Any) -> None:
        #: True when the request may have reached the gateway (a drop or read timeout after sending).
        self.request_sent = request_sent
        super().__init__(message, **where)


class GatewayTimeout(GatewayConnectionError):
    """The gateway did not answer within the client's timeout."""


class GatewayStatusError(GatewayError):
    """The gateway answered with an HTTP error status."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        request_id: str | None = None,
        **where: Any,
    ) -> None:
        self.status_code = status_code
        #: The gateway's request id header, when it sent one.
        self.request_id = request_id
        super().__init__(message, **where)

    def __str__(self) -> str:
        text = self.message.rstrip(".")
        rid = f", request id {self.request_id}" if self.request_id else ""
        return f"UPayments answered HTTP {self.status_code}: {text}{rid}{self._where()}."


class BadRequest(GatewayStatusError):
    """HTTP 400: the gateway could not understand the request."""


class AuthenticationError(GatewayStatusError):
    """HTTP 401: the API key is missing or wrong."""


class PermissionDeniedByGateway(GatewayStatusError):
    """HTTP 403: the API key may not use this feature."""


class NotFound(GatewayStatusError):
    """HTTP 404: unknown track id, order id or path."""


class ValidationFailed(GatewayStatusError):
    """HTTP 422: the gateway refused some fields (Laravel-style ``errors``)."""

    def __init__(self, message: str, *, errors: dict[str, list[str]] | None = None, **kw: Any) -> None:
        #: Field name → messages; empty when the gateway sent ``"errors": []``.
        self.errors: dict[str, list[str]] = errors or {}
        super().__init__(message, **kw)

    def __str__(self) -> str:
        base = super().__str__()
        if not self.errors:
            return base
        fields = "; ".join(f"{k}: {' '.join(v)}" for k, v in sorted(self.errors.items()))
        return f"{base[:-1]} [{fields}]."


class RateLimited(GatewayStatusError):
    """HTTP 429 from the gateway, or our own limiter could not get a slot in time (``status_code`` 429)."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, status_code: int = 429, **kw: Any
    ) -> None:
        #: Seconds to wait before trying again, when known.
        self.retry_after = retry_after
        super().__init__(message, status_code=status_code, **kw)

    def __str__(self) -> str:
        base = super().__str__()
        return base if self.retry_after is None else f"{base[:-1]}; retry after {self.retry_after:.1f} s."


class ServerError(GatewayStatusError):
    """HTTP 5xx: the gateway failed; a money-moving call may or may not have taken effect."""


class InvalidResponse(GatewayError):
    """The gateway answered 2xx with something we cannot use (not JSON, truncated, wrong shape)."""

    def __init__(self, message: str, *, status_code: int | None = None, **where: Any) -> None:
        self.status_code = status_code
        super().__init__(message, **where)


class BusinessRefusal(GatewayError):
    """The gateway answered 2xx with ``"status": false``: it understood and refused."""

    def __str__(self) -> str:
        return f"UPayments refused: {self.message.rstrip('.')}{self._where()}."


_STATUS_ERRORS: dict[int, type[GatewayStatusError]] = {
    400: BadRequest,
    401: AuthenticationError,
    403: PermissionDeniedByGateway,
    404: NotFound,
    422: ValidationFailed,
    429: RateLimited,
}


def status_error_class(status_code: int) -> type[GatewayStatusError]:
    """The error class for an HTTP status (5xx → ServerError; other 4xx → GatewayStatusError)."""
    if status_code >= 500:
        return ServerError
    return _STATUS_ERRORS.get(status_code, GatewayStatusError)


def is_uncertain(exc: BaseException) -> bool:
    """True when a money-moving POST that raised ``exc`` may still have taken effect at the gateway.

    Callers settle such outcomes by asking the gateway (status / check-refund), never by resending.
    """
    if isinstance(exc, GatewayConnectionError):
        return exc.request_sent
    if isinstance(exc, InvalidResponse):
        # A 2xx we could not read may hide a success; a 4xx page came from a front layer that refused it.
        return exc.status_code is None or exc.status_code < 400
    return isinstance(exc, ServerError)


__all__ = [
    "AuthenticationError",
    "BadRequest",
    "BusinessRefusal",
    "GatewayConnectionError",
    "GatewayError",
    "GatewayStatusError",
    "GatewayTimeout",
    "InvalidResponse",
    "NotFound",
    "PermissionDeniedByGateway",
    "RateLimited",
    "ServerError",
    "ValidationFailed",
    "is_uncertain",
    "status_error_class",
]
