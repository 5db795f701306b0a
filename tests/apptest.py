"""One AppTest page setup for the page tests: settings and a fresh SQLite file in, every Streamlit cache out.

A test file's fixture wraps ``page_env`` and its tests open pages with ``run_page``::

    @pytest.fixture
    def env(tmp_path, monkeypatch):
        with page_env(tmp_path, monkeypatch, SOUQ_REFUND_APPROVAL_THRESHOLD_FILS="100000") as engine:
            yield engine

    at = run_page(PAGES / "refunds.py", "fahad@shop.test", payment="ORD-1")
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import pytest
import streamlit as st
from sqlalchemy.engine import Engine
from streamlit.testing.v1 import AppTest

from dashboard import runtime
from services.db import sqlite_url
from tests.factories import make_db

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "pages"
APP = ROOT / "app.py"
CLOSED_GATEWAY = "http://127.0.0.1:9/api/v1/"  # nobody listens on port 9: any gateway call fails at once
TIMEOUT_SECONDS = 30


def shown(source: str) -> str:
    """Roughly what a reader sees of Markdown source that went through ``dashboard.safe.md``: escapes and the
    invisible word joiners dropped (enough to assert on words; the browser tests check the real rendering)."""
    return re.sub(r"\\(.)", r"\1", source).replace("\u2060", "")


def clear_caches() -> None:
    """Forget every ``st.cache_data`` and ``st.cache_resource`` entry (``dashboard.reads``, ``dashboard.state``)
    and the process's settings and shop rules (``dashboard.runtime``), so a page reads this test's settings."""
    st.cache_data.clear()
    st.cache_resource.clear()
    runtime.reset()


@contextmanager
def page_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, gateway_url: str | None = CLOSED_GATEWAY,
             environment: Literal["production", "sandbox", "demo"] = "demo", db_name: str = "page.db",
             **extra_env: str) -> Iterator[Engine]:
    """Point the dashboard's settings at a new SQLite file ``tmp_path / db_name`` and yield its engine.

    ``gateway_url=None`` leaves ``SOUQ_GATEWAY_URL`` as it is; ``extra_env`` are more settings by their full
    names (``SOUQ_ADMINS="boss@shop.test"``). Caches are cleared before, so a page reads these settings, and
    after, so the next test does not see this database.
    """
    for name in extra_env:
        if not name.startswith("SOUQ_"):
            raise ValueError(f"{name}: page settings are SOUQ_* variables")
    monkeypatch.setenv("SOUQ_DATABASE_URL", sqlite_url(tmp_path / db_name))
    monkeypatch.setenv("SOUQ_ENVIRONMENT", environment)
    if gateway_url is not None:
        monkeypatch.setenv("SOUQ_GATEWAY_URL", gateway_url)
    for name, value in extra_env.items():
        monkeypatch.setenv(name, value)
    engine = make_db(tmp_path, db_name)
    clear_caches()
    try:
        yield engine
    finally:
        clear_caches()


def login(email: str | None, name: str | bool = True) -> dict[str, Any]:
    """The ``st.user`` of a verified login as ``email``, or of nobody (``None``).

    ``name``: ``True`` uses the address's local part (``sara`` for ``sara@shop.test``), ``False`` sends no name,
    a string is the name itself.
    """
    if email is None:
        return {"is_logged_in": False}
    user: dict[str, Any] = {"is_logged_in": True, "email": email}
    if name is not False:
        user["name"] = email.split("@")[0] if name is True else name
    return user


def run_page(page: str | Path, email: str | None, /, *, name: str | bool = True, **query: str) -> AppTest:
    """Run a page (or ``APP``) once in AppTest, logged in as ``email`` (see ``login``), with ``query`` as the
    URL's query parameters (any key but ``name``)."""
    at = AppTest.from_file(str(page), default_timeout=TIMEOUT_SECONDS)
    at.user = login(email, name)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()
