"""Server start-up and shutdown (``st.App`` lifespan): the background sync runs from the moment the server is up.

Without this the sync thread would wait for the first person to open a page, so a dashboard restarted at night
would not catch up payments made while it was down until somebody logged in.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from dashboard import background
from dashboard.routes import route_engine, route_settings
from services.sync import shared_client

log = logging.getLogger(__name__)


@asynccontextmanager
async def lifespan(_app: Any) -> AsyncIterator[None]:
    """Start the background sync with the server (when enabled) and stop it on shutdown."""
    settings = route_settings()
    started = False
    if settings.background_sync:
        try:
            background.ensure_started(settings, route_engine(), shared_client(settings))
            started = True
        except Exception:  # a bad database URL must not keep the UI (and its error page) from starting
            log.exception("background sync could not start with the server; the first page view retries")
    yield
    if started:
        background.stop()
