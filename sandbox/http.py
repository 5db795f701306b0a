"""The sandbox API's HTTP plumbing shared by every endpoint module: envelopes, errors, the bearer check, JSON bodies.

Apart from :mod:`sandbox.api` so that the saved-card and split-payment endpoints use it without an import cycle.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from .validation import Invalid

if TYPE_CHECKING:
    from .core import Sandbox


class TooLarge(Exception):
    """Request body above the configured limit."""


def ok(data: Any, message: str = "Response received successfully") -> JSONResponse:
    """Success: HTTP 201 everywhere (§16 A8)."""
    return JSONResponse({"status": True, "message": message, "data": data}, status_code=201)


def refused(message: str) -> JSONResponse:
    """A business refusal: 2xx with ``status:false`` (§1.5); 200 is the simulator's choice of 2xx."""
    return JSONResponse({"status": False, "message": message, "data": {}}, status_code=200)


def not_found(message: str) -> JSONResponse:
    """An unknown id in a look-up (simulator-chosen: 404 with the envelope)."""
    return JSONResponse({"status": False, "message": message}, status_code=404)


def unauthorized() -> JSONResponse:
    """Missing or wrong bearer (§1.5)."""
    return JSONResponse({"message": "Not a valid API request"}, status_code=401)


def invalid(exc: Invalid) -> JSONResponse:
    """Laravel-style 422 (§1.5)."""
    return JSONResponse({"message": str(exc), "errors": exc.errors}, status_code=422)


def sandbox_of(request: Request) -> Sandbox:
    """The Sandbox behind this app."""
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


def bearer(request: Request) -> str | None:
    """The accepted token of this request, or None."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token if token in sandbox_of(request).config.tokens() else None


async def read_json(request: Request) -> Any:
    """The JSON body with numbers as Decimal/int (never float); TooLarge / Invalid on bad bodies."""
    limit = sandbox_of(request).config.max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLarge
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge
    if not body.strip():
        raise Invalid({"body": ["The request body must be a JSON object."]})
    try:
        return json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        raise Invalid({"body": ["The request body is not valid JSON."]}) from None


def too_large() -> JSONResponse:
    """Body above the limit."""
    return JSONResponse({"message": "The request body is too large."}, status_code=413)


async def json_body(request: Request) -> tuple[Any, JSONResponse | None]:
    """The JSON body, or the answer refusing it (413 too large, 422 not JSON): ``(body, None)`` or
    ``(None, answer)``."""
    try:
        return await read_json(request), None
    except TooLarge:
        return None, too_large()
    except Invalid as exc:
        return None, invalid(exc)


async def authorized_json(request: Request) -> tuple[str, Any] | JSONResponse:
    """The accepted bearer token and the JSON body, or the answer refusing the request (401, 413, 422): the
    opening of every endpoint that takes a JSON body."""
    token = bearer(request)
    if token is None:
        return unauthorized()
    body, refusal = await json_body(request)
    return refusal if refusal is not None else (token, body)
