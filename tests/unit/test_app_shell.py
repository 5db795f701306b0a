"""The entry script in AppTest: anonymous → login only; unknown e-mail → no access; staff → their pages."""

from __future__ import annotations

import pytest

from services.permissions import Role
from tests.apptest import APP, page_env, run_page, shown
from tests.factories import make_staff


@pytest.fixture
def app_env(tmp_path, monkeypatch):
    with page_env(tmp_path, monkeypatch, gateway_url=None, db_name="shell.db", SOUQ_ADMINS="boss@shop.test",
                  SOUQ_BACKGROUND_SYNC="false") as engine:
        yield engine


def test_anonymous_sees_only_the_login_button(app_env) -> None:
    at = run_page(APP, None)
    assert not at.exception
    assert [b.label for b in at.button] == ["Log in with your company account"]
    assert at.title[0].value == "Souq Desk"


def test_unknown_email_gets_the_no_access_page(app_env) -> None:
    at = run_page(APP, "stranger@example.com", name="Sam")
    assert not at.exception
    assert at.title[0].value == "No access yet"
    assert "Ask your admin" in at.info[0].value
    assert [b.label for b in at.button] == ["Log out"]


def test_removed_staff_loses_access_on_the_next_rerun(app_env) -> None:
    from services.staff import remove_staff, resolve_actor

    make_staff(app_env, Role.SALES, "sara@shop.test")
    at = run_page(APP, "sara@shop.test", name=False)
    assert at.title[0].value != "No access yet"
    boss = resolve_actor(app_env, "boss@shop.test")
    assert boss is not None
    remove_staff(app_env, boss, email="sara@shop.test")
    at.run()  # the open session's page re-checks the database on its next rerun and shows nothing
    assert len(at.title) == 0 and "staff account" in at.warning[0].value
    fresh = run_page(APP, "sara@shop.test", name=False)
    assert fresh.title[0].value == "No access yet"


def test_admin_from_settings_lands_on_a_page_with_the_header(app_env) -> None:
    at = run_page(APP, "Boss@Shop.test", name="Boss")
    assert not at.exception
    sidebar_text = shown(" ".join(m.value for m in at.sidebar.markdown) + " ".join(c.value for c in at.sidebar.caption))
    assert "boss@shop.test" in sidebar_text and "Role: **admin**" in sidebar_text
    assert "Gateway:" in sidebar_text and "Synced:" in sidebar_text
