"""HTTP routes served beside the Streamlit UI by ``st.App``: gateway webhook, health and readiness, CSV downloads.

Behind a proxy (``deploy/``): ``/api/health`` says whether this server is alive and whether it leads the
background sync; ``/api/ready`` says whether it should get traffic (database reachable, schema at head). Both
are anonymous, so they name nothing about the machine: no host name, process id or version; only the name the
operator chose for the server (``SOUQ_SERVER_NAME``), when one is set.

Kept off ``/_stcore``; a verb a Starlette route does not list would fall through to the Streamlit SPA and answer
200, so the webhook route accepts every verb and answers 405 itself. GET and POST are both notifications
(§18 F5: plugins read the fields from the query string as well as the body).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from dashboard import background, customer_pages, page_entry, runtime
from dashboard.export_header import transactions_header
from services import migrate, sync
from services.gateway import Lane
from services.search import ExportRefused, export_csv, redeem_ticket
from services.timeutil import kuwait_today

log = logging.getLogger(__name__)
WEBHOOK_PATH = "/webhooks/upayments"
HEALTH_PATH = "/api/health"
READY_PATH = "/api/ready"
EXPORT_PATH = "/export/transactions.csv"
_ALL_VERBS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
#: Verbs a gateway notification may come by (§18 F5).
NOTIFY_VERBS = ("GET", "POST")


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise sync.PayloadTooLarge(f"Body of {declared} bytes is over the {limit}-byte limit.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise sync.PayloadTooLarge(f"Body is over the {limit}-byte limit.")
        chunks.append(chunk)
    return b"".join(chunks)


async def webhook(request: Request) -> Response:
    """Store a gateway notification raw and answer fast; verification happens against the gateway."""
    if request.method not in NOTIFY_VERBS:
        return JSONResponse({"success": False, "message": "Use GET or POST."}, status_code=405,
                            headers={"Allow": ", ".join(NOTIFY_VERBS)})
    limit = runtime.settings().webhook_max_bytes
    query = request.url.query
    try:
        if len(query) > limit:
            raise sync.PayloadTooLarge(f"Query string is over the {limit}-byte limit.")
        body = await _read_limited(request, limit - len(query))
        receipt = await run_in_threadpool(
            sync.receive, runtime.engine(), body, request.headers.get("content-type"), max_bytes=limit,
            remote=request.client.host if request.client else None, query=query, method=request.method,
        )
    except sync.PayloadTooLarge as exc:
        return JSONResponse({"success": False, "message": str(exc)}, status_code=413)
    if receipt.unusable is not None:  # stored closed, with the reason, for the inbox; never queued
        return JSONResponse({"success": False, "message": receipt.unusable}, status_code=400)
    await run_in_threadpool(_after_receive, receipt.event_id, receipt.lane)
    return JSONResponse({"success": True, "message": "Success", "data": {"duplicate": receipt.duplicate}})


def _after_receive(event_id: int, lane: Lane) -> None:
    """Hand the stored delivery to the processor (verification against the gateway)."""
    try:
        sync.on_webhook_stored(runtime.engine(), runtime.client(), event_id, lane)
    except Exception:  # the delivery is stored; the inbox page and the next sync pass will retry it
        log.exception("processing webhook event %s failed", event_id)


async def health(_request: Request) -> Response:
    """Liveness plus a database round trip, this server's part in the background sync (leader or follower) and
    the operator's name for it (``SOUQ_SERVER_NAME``; left out when empty)."""
    answer: dict[str, object] = {"ok": True, "sync": background.role()}
    name = runtime.settings().server_name
    if name:
        answer["server"] = name
    try:
        await run_in_threadpool(_ping)
    except Exception as exc:
        return JSONResponse(answer | {"ok": False, "database": type(exc).__name__}, status_code=503)
    return JSONResponse(answer)


async def ready(_request: Request) -> Response:
    """Readiness for the proxy: the database answers and its schema is at the newest migration."""
    try:
        revision = await run_in_threadpool(_revision)
    except Exception as exc:
        return JSONResponse({"ready": False, "database": type(exc).__name__}, status_code=503)
    head = migrate.head_revision()
    if revision != head:
        return JSONResponse({"ready": False, "revision": revision, "head": head}, status_code=503)
    return JSONResponse({"ready": True, "revision": revision})


async def export_transactions(request: Request) -> Response:
    """Stream the CSV a Transactions page ticket names (services.search.export), as a file download."""
    try:
        actor, flt, header_language = await run_in_threadpool(redeem_ticket, runtime.engine(),
                                                              request.query_params.get("t", ""))
    except ExportRefused as exc:
        return PlainTextResponse(str(exc), status_code=403, headers={"Cache-Control": "no-store"})
    filename = f"transactions-{kuwait_today().isoformat()}.csv"

    def body() -> Iterator[str]:
        yield "\ufeff"  # a byte-order mark: spreadsheets then read Arabic names as UTF-8
        yield from export_csv(runtime.engine(), actor, flt, header=transactions_header(header_language))

    return StreamingResponse(body(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff"})


def _ping() -> None:
    with runtime.engine().connect() as conn:
        conn.execute(text("SELECT 1"))


def _revision() -> str | None:
    with runtime.engine().connect() as conn:
        return migrate.current_revision(conn)


def routes() -> list[BaseRoute]:
    """Every custom route of the app (also used by in-process tests)."""
    return [
        Route(WEBHOOK_PATH, webhook, methods=_ALL_VERBS),
        Route(HEALTH_PATH, health, methods=["GET"]),
        Route(READY_PATH, ready, methods=["GET"]),
        Route(EXPORT_PATH, export_transactions, methods=["GET"]),
        *customer_pages.routes(),
        *page_entry.routes(),
    ]
