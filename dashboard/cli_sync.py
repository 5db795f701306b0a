"""``python -m dashboard sync``: one sync pass for cron (exit 0 when it ran or had nothing to do, 1 when it could
not or had errors).

On PostgreSQL the app servers' background sync may be running on the same database: the pass takes the sync
leader's lock (:mod:`services.leader`) first and skips, saying so, while a server (or another cron run) holds it,
so two passes never ask the gateway the same questions at once. On SQLite there is no such lock: run either the
app's background sync or this command from cron (``SOUQ_BACKGROUND_SYNC=false``), not both.
"""

from __future__ import annotations

import logging

from dashboard.settings import SettingsError, load_settings
from services.db import create_schema, make_engine
from services.gateway.factory import build_client
from services.leader import Leadership
from services.permissions import SYSTEM
from services.sync import sync_pending

log = logging.getLogger(__name__)

#: What the command prints when a server already runs the sync on this database.
SKIPPED = ("sync: skipped: another process leads the background sync on this database (an app server, or another "
           "sync run), and it polls the gateway already")


def run_sync(limit: int) -> int:
    """Load settings, run one pass of at most ``limit`` look-ups, print a summary; the process exit code."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"sync: {exc}")
        return 1
    engine = make_engine(settings.database_url)
    leadership = Leadership(engine)
    try:
        create_schema(engine)
        if not leadership.acquire():
            print(SKIPPED)
            return 0
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
        leadership.step_down()
        engine.dispose()
    print(f"sync: {report.summary()}")
    for problem in report.problems:
        print(f"  - {problem}")
    return 1 if report.errors else 0
