"""``python -m dashboard sync``: one sync pass for cron (exit 0 when it ran, 1 when it could not or errors)."""

from __future__ import annotations

import logging

from dashboard.settings import SettingsError, load_settings
from services.db import create_schema, make_engine
from services.gateway.factory import build_client
from services.permissions import SYSTEM
from services.sync import sync_pending

log = logging.getLogger(__name__)


def run_sync(limit: int) -> int:
    """Load settings, run one pass of at most ``limit`` look-ups, print a summary; the process exit code."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"sync: {exc}")
        return 1
    engine = make_engine(settings.database_url)
    try:
        create_schema(engine)
        client = build_client(settings)
        try:
            report = sync_pending(engine, client, limit=limit, actor=SYSTEM)
        finally:
            client.close()
    except Exception as exc:  # a cron job prints one line and fails; the log has the detail
        log.exception("sync pass failed")
        print(f"sync: failed: {exc}")
        return 1
    finally:
        engine.dispose()
    print(f"sync: {report.summary()}")
    for problem in report.problems:
        print(f"  - {problem}")
    return 1 if report.errors else 0
