"""Server start-up and shutdown (``st.App`` lifespan), before any browser session exists.

- The background sync runs from the moment the server is up. Otherwise it would wait for the first person to
  open a page, and a dashboard restarted at night would not catch up payments made while it was down.
- Pages are reached only through ``app.py``'s ``st.navigation``. Streamlit treats a ``pages/`` folder next to
  the entry script as a legacy multipage app until some session calls ``st.navigation``; until then, after every
  restart, a deep link such as ``/audit`` ran ``pages/audit.py`` directly, skipping the login gate's per-role
  menu (the services still refused what the role may not do, but the page and an all-pages menu showed).
"""

from __future__ import annotations

import gc
import importlib
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from streamlit.runtime.pages_manager import PagesManager

from dashboard import background, runtime

log = logging.getLogger(__name__)


@asynccontextmanager
async def lifespan(_app: Any) -> AsyncIterator[None]:
    """Declared navigation only; start the background sync with the server (when enabled), stop it on shutdown."""
    use_declared_navigation_only()
    threading.Thread(target=warm_up, name="souq-warm-up", daemon=True).start()
    settings = runtime.settings()
    started = False
    try:  # the engine and the schema check now, before anyone waits for them at their log-in
        engine = runtime.engine()
    except Exception:  # a bad database URL must not keep the UI (and its error page) from starting
        log.exception("the database could not be opened with the server; the first page view retries")
    else:
        if settings.background_sync:
            try:
                background.ensure_started(settings, engine, runtime.client())
                started = True
            except Exception:
                log.exception("background sync could not start with the server; the first page view retries")
    yield
    if started:
        background.stop()


#: Modules the first log-in would otherwise import while someone waits: Streamlit's OIDC routes import Authlib on
#: the first ``/auth/login`` and ``/oauth2callback`` (measured with bench/login_trace.py: the first answered ~150 ms
#: later than with these imported, at load 3–5), and the pages import plotly and the services on first use.
WARM_MODULES = (
    "authlib.integrations.starlette_client", "authlib.oidc.core", "authlib.jose",
    "plotly.graph_objects", "dashboard.reads", "dashboard.charts", "services.search", "services.analytics",
    "dashboard.header", "dashboard.lang", "dashboard.state", "streamlit.emojis",  # app.py's first run: ~0.5 s
    "services.links", "services.refunds", "services.customers", "services.settlements", "services.sync",
    # the refund list's arrival dates: the first refund page imported every country's holiday calendar (0.44 s)
    "holidays.countries",
)


def warm_up() -> None:
    """Import :data:`WARM_MODULES` off the request path, once, in a thread at start-up (a failure only logs),
    then :func:`freeze_start_up_heap`."""
    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # an optional dependency missing must not stop the server; the route will say so
            log.warning("warm-up: could not import %s", name, exc_info=True)
    freeze_start_up_heap()


def freeze_start_up_heap() -> None:
    """Take what exists now (modules, classes, functions: the libraries' ~220,000 objects) out of the cycle
    collector's full passes (:func:`gc.freeze`), once, at start-up.

    Python's full collection walks every tracked object, and a page's rerun allocates enough to start one about
    every eleventh rerun: measured at 1,000,000 payments (issue 15), that one rerun of Settlements took 110–200
    ms more than the others, the page's "single slow rerun" (any page's run could draw it). With the start-up
    heap frozen a full pass walks only what was made since, 8–30 ms. Only the start-up heap is frozen: sessions'
    objects made later stay collectable (frozen cyclic garbage would never be freed).
    """
    gc.collect()
    gc.freeze()


def use_declared_navigation_only() -> None:
    """What ``st.navigation`` does on its first call, done at start-up: never fall back to the ``pages/`` folder.

    (``PagesManager.uses_pages_directory`` is Streamlit's own switch for this; no public option exists.)
    """
    PagesManager.uses_pages_directory = False
