"""The sandbox ASGI app: gateway API, hosted payment page, admin API, fault injection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from . import admin, api, cards, cards_page, page, split
from .config import SandboxConfig
from .core import Sandbox
from .faults import FaultMiddleware


async def _http_error(request: Request, exc: Exception) -> Response:
    """JSON errors on the API paths (Laravel-like), plain text elsewhere."""
    code = exc.status_code if isinstance(exc, HTTPException) else 500
    if request.url.path.startswith("/api/"):
        message = {404: "The route could not be found.", 405: "The method is not supported for this route."}
        return JSONResponse({"message": message.get(code, "Server Error")}, status_code=code)
    return PlainTextResponse(str(getattr(exc, "detail", "Error")), status_code=code)


def create_app(config: SandboxConfig) -> Starlette:
    """A Starlette app serving one sandbox instance backed by ``config.db_path``."""
    sandbox = Sandbox(config)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        sandbox.close()

    app = Starlette(
        routes=[*api.ROUTES, *split.ROUTES, *cards.ROUTES, *cards_page.ROUTES, *page.ROUTES, *admin.ROUTES],
        middleware=[Middleware(FaultMiddleware, state=sandbox.faults)],
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.sandbox = sandbox
    return app
