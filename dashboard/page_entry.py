"""A page's own address opened directly (a bookmark, a colleague's link, a reload) connects at the first try.

Streamlit's frontend does not know where the server's root is. Opened at ``/refunds`` it first asks
``/refunds/_stcore/health`` and ``/refunds/_stcore/host-config`` (404: "refunds" is a page, not a base path), waits,
and only then asks ``/``: about 110 ms of every such load on this machine, before anything else can start
(``bench/pages.py``, "open a payment from a link"). Here a page's address answers with Streamlit's own
``index.html`` plus one line before its scripts that names the base through the frontend's embedding hook
(``window.__streamlit.BACKEND_BASE_URL``): the address without its last segment, which is what the frontend's second
guess would have been, so a proxy's path prefix is kept. Only the pages' addresses are answered here; any other
address falls through to Streamlit as before, and so does everything if its ``index.html`` changes shape.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from dashboard.navigation import PAGES

#: Where the base is named: before the first module script (inline scripts before it run first).
_ANCHOR = '<script type="module"'
BASE_HOOK = ("<script>(function(){var p=location.pathname.replace(/\\/+$/,'');"
             "window.__streamlit=Object.assign({},window.__streamlit,"
             "{BACKEND_BASE_URL:location.origin+p.slice(0,p.lastIndexOf('/')+1)});})();</script>\n    ")
#: The addresses answered here: every page's, and the hidden home page's.
PAGE_PATHS = tuple(sorted({f"/{spec.url_path}" for spec in PAGES} | {"/home"}))


def static_dir() -> Path:
    """Streamlit's frontend files, found without importing Streamlit (the routes run without it)."""
    spec = importlib.util.find_spec("streamlit")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "static"


@functools.cache
def page_html() -> str:
    """Streamlit's ``index.html`` with the base named (unchanged if it has no module script to put it before)."""
    html = (static_dir() / "index.html").read_text(encoding="utf-8")
    at = html.find(_ANCHOR)
    return html if at < 0 else html[:at] + BASE_HOOK + html[at:]


async def page(_request: Request) -> Response:
    return HTMLResponse(page_html(), headers={"Cache-Control": "no-cache"})


def routes() -> list[BaseRoute]:
    return [Route(path, page, methods=["GET"]) for path in PAGE_PATHS]
