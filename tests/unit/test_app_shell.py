"""The entry script in AppTest: anonymous → login only; unknown e-mail → no access; staff → their pages."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from services.db import sqlite_url
from services.permissions import Role
from tests.factories import make_db, make_staff

APP = Path(__file__).resolve().parents[2] / "app.py"


@pytest.fixture
def app_env(tmp_path, monkeypatch):
    monkeypatch.setenv("SOUQ_DATABASE_URL", sqlite_url(tmp_path / "shell.db"))
    monkeypatch.setenv("SOUQ_ENVIRONMENT", "demo")
    monkeypatch.setenv("SOUQ_ADMINS", "boss@shop.test")
    monkeypatch.setenv("SOUQ_BACKGROUND_SYNC", "false")
    engine = make_db(tmp_path, "shell.db")
    yield engine
    from dashboard import state

    state._settings.clear()
    state._engine.clear()


def _run(user: dict | None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=30)
    if user is not None:
        at.user = user
    return at.run()


def test_anonymous_sees_only_the_login_button(app_env) -> None:
    at = _run({"is_logged_in": False})
    assert not at.exception
    assert [b.label for b in at.button] == ["Log in with your company account"]
    assert at.title[0].value == "Souq Desk"


def test_unknown_email_gets_the_no_access_page(app_env) -> None:
    at = _run({"is_logged_in": True, "email": "stranger@example.com", "name": "Sam"})
    assert not at.exception
    assert at.title[0].value == "No access yet"
    assert "Ask your admin" in at.info[0].value
    assert [b.label for b in at.button] == ["Log out"]


def test_removed_staff_loses_access_on_the_next_rerun(app_env) -> None:
    from services.staff import remove_staff, resolve_actor

    make_staff(app_env, Role.SALES, "sara@shop.test")
    at = _run({"is_logged_in": True, "email": "sara@shop.test"})
    assert at.title[0].value != "No access yet"
    boss = resolve_actor(app_env, "boss@shop.test")
    assert boss is not None
    remove_staff(app_env, boss, email="sara@shop.test")
    at.run()  # the open session's page re-checks the database on its next rerun and shows nothing
    assert len(at.title) == 0 and "staff account" in at.warning[0].value
    fresh = _run({"is_logged_in": True, "email": "sara@shop.test"})
    assert fresh.title[0].value == "No access yet"


def test_admin_from_settings_lands_on_a_page_with_the_header(app_env) -> None:
    at = _run({"is_logged_in": True, "email": "Boss@Shop.test", "name": "Boss"})
    assert not at.exception
    sidebar_text = " ".join(m.value for m in at.sidebar.markdown) + " ".join(c.value for c in at.sidebar.caption)
    assert "boss@shop.test" in sidebar_text and "Role: **admin**" in sidebar_text
    assert "Gateway:" in sidebar_text and "Synced:" in sidebar_text
