"""Server start-up and shutdown (``st.App`` lifespan), before any browser session exists.

- The background sync runs from the moment the server is up. Otherwise it would wait for the first person to
  open a page, and a dashboard restarted at night would not catch up payments made while it was down.
- Pages are reached only through ``app.py``'s ``st.navigation``. Streamlit treats a ``pages/`` folder next to
  the entry script as a legacy multipage app until some session calls ``st.navigation``; until then, after every
  restart, a deep link such as ``/audit`` ran ``pages/audit.py`` directly, skipping the login gate's per-role
  menu (the services still refused what the role may not do, but the page and an all-pages menu showed).
"""

from __future__ import annotations

import logging
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
    settings = runtime.settings()
    started = False
    if settings.background_sync:
        try:
            background.ensure_started(settings, runtime.engine(), runtime.client())
            started = True
        except Exception:  # a bad database URL must not keep the UI (and its error page) from starting
            log.exception("background sync could not start with the server; the first page view retries")
    yield
    if started:
        background.stop()


def use_declared_navigation_only() -> None:
    """What ``st.navigation`` does on its first call, done at start-up: never fall back to the ``pages/`` folder.

    (``PagesManager.uses_pages_directory`` is Streamlit's own switch for this; no public option exists.)
    """
    PagesManager.uses_pages_directory = False
