"""Arabic staff dashboard: language per session and per person, locale formatting, bidi isolates after escaping.

Real parts: the compiled catalog, Babel's CLDR data, a real SQLite file for the staff row, AppTest for the app
shell with the browser's locale.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from dashboard import formatting, i18n
from dashboard.errors import explain, explain_md
from dashboard.i18n import _
from dashboard.safe import BIDI_CONTROLS, FSI, PDI, md, md_iso, plain_iso
from services import money, phones, staff
from services.permissions import PermissionDenied, Role
from services.sentence import say
from services.staff import StaffError
from tests.apptest import APP, TIMEOUT_SECONDS, login, page_env, run_page
from tests.factories import make_db, make_staff

AT_6PM = datetime(2026, 11, 24, 15, 5, tzinfo=UTC)  # 18:05 in Kuwait, a Tuesday


def test_english_output_is_unchanged() -> None:
    assert formatting.money(12500) == "12.500 KWD"
    assert formatting.kuwait_time(AT_6PM) == "2026-11-24 18:05"
    assert md_iso("SD-1") == md("SD-1")  # no isolates in left-to-right pages


def test_arabic_money_has_three_decimals_the_dinar_sign_and_the_chosen_digits() -> None:
    with i18n.use("ar", "latn"):
        assert formatting.money(12500) == "12.500 د.ك."
        assert formatting.money(1234567) == "1,234.567 د.ك."
    with i18n.use("ar", "arab"):
        assert formatting.money(12500) == "١٢٫٥٠٠ د.ك."
        assert formatting.number(1234) == "١٬٢٣٤"
    with i18n.use("en", "arab"):  # Arabic-Indic digits only ever in Arabic
        assert formatting.money(12500) == "12.500 KWD"


def test_arabic_dates_have_arabic_month_and_weekday_names() -> None:
    with i18n.use("ar"):
        assert formatting.kuwait_time(AT_6PM) == "24 نوفمبر 2026، 18:05"
        assert formatting.kuwait_day(AT_6PM) == "الثلاثاء 24 نوفمبر 2026"
    with i18n.use("ar", "arab"):
        assert formatting.kuwait_time(AT_6PM) == "٢٤ نوفمبر ٢٠٢٦، ١٨:٠٥"


def test_relative_times_use_arabic_plural_forms() -> None:
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    with i18n.use("ar"):
        said = [formatting.ago(datetime(2026, 11, 24 - n, 12, tzinfo=UTC), now) for n in (1, 2, 3, 11)]
    assert said == ["منذ يوم", "منذ يومين", "منذ 3 أيام", "منذ 11 يومًا"]


def test_inputs_keep_accepting_both_digit_sets() -> None:
    assert money.parse_amount("١٢٫٥") == money.parse_amount("12.5") == 12500
    assert phones.normalize_phone("٩٩٣٩ ٠٣٦١") == phones.normalize_phone("9939 0361") == "+96599390361"


@given(st.text(max_size=80))
def test_an_isolate_wraps_escaped_data_and_data_cannot_bring_its_own(text: str) -> None:
    with i18n.use("ar"):
        for wrapped in (md_iso(text), plain_iso(text)):
            assert wrapped.startswith(FSI) and wrapped.endswith(PDI)
            assert not set(wrapped[1:-1]) & set(BIDI_CONTROLS)  # hostile FSI/PDI/RLO… are stripped first


def test_a_service_sentence_is_translated_with_its_values_isolated_and_escaped() -> None:
    hostile = "**x@evil.example**\u2069\u202e"
    with i18n.use("ar"):
        said = explain_md(StaffError(say("{email} is not on the staff list.", email=hostile)))
        plain = explain(StaffError(say("{email} is not on the staff list.", email="a@b.kw")))
    assert said.endswith("ليس في قائمة الموظفين.") and said.count(FSI) == 1 and said.count(PDI) == 1
    assert "\\*\\*" in said and "\u202e" not in said  # Markdown escaped, override stripped, one isolate only
    assert plain == f"{FSI}a@b.kw{PDI} ليس في قائمة الموظفين."
    # a sentence that is not in the catalog stays as it was said (still escaped)
    with i18n.use("ar"):
        assert explain_md(ValueError("Unheard *of*")) == md("Unheard *of*")


def test_each_session_thread_speaks_its_own_language() -> None:
    seen: dict[str, list[str]] = {"ar": [], "en": []}
    barrier = threading.Barrier(2)

    def run(lang: str) -> None:
        i18n.activate(lang)
        barrier.wait()  # both threads have set their language before either reads it
        for _round in range(50):
            seen[lang].append(_("Log out"))

    threads = [threading.Thread(target=run, args=(lang,)) for lang in ("ar", "en")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(seen["ar"]) == {"تسجيل الخروج"} and set(seen["en"]) == {"Log out"}


def test_preferences_live_on_the_staff_row_and_only_staff_change_their_own(tmp_path) -> None:
    engine = make_db(tmp_path)
    sara = make_staff(engine, Role.SALES, "sara@shop.test")
    assert staff.preferences(engine, "sara@shop.test") == staff.Preferences(language=None, digits="latn")
    staff.set_preferences(engine, sara, language="ar")
    staff.set_preferences(engine, sara, digits="arab")
    assert staff.preferences(engine, "SARA@shop.test") == staff.Preferences(language="ar", digits="arab")
    with pytest.raises(StaffError):
        staff.set_preferences(engine, sara, language="fr")
    boss = make_staff(engine, Role.ADMIN, "boss@shop.test")
    staff.remove_staff(engine, boss, email="sara@shop.test")
    with pytest.raises(PermissionDenied):
        staff.set_preferences(engine, sara, language="en")


@pytest.fixture
def app_env(tmp_path, monkeypatch):
    with page_env(tmp_path, monkeypatch, gateway_url=None, db_name="shell.db", SOUQ_ADMINS="boss@shop.test",
                  SOUQ_BACKGROUND_SYNC="false") as engine:
        yield engine


def _run_app(email: str | None, locale: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_SECONDS)
    at.user = login(email)
    at.context = {"locale": locale}
    return at.run()


def test_first_login_takes_the_browsers_language_and_stores_it(app_env) -> None:
    make_staff(app_env, Role.FINANCE, "huda@shop.test")
    at = _run_app("huda@shop.test", "ar-KW")
    assert not at.exception
    assert staff.preferences(app_env, "huda@shop.test").language == "ar"
    assert [b.label for b in at.sidebar.button] == ["English", "تسجيل الخروج"]
    later = _run_app("huda@shop.test", "en-US")  # stored: a browser in English does not change it
    assert [b.label for b in later.sidebar.button][-1] == "تسجيل الخروج"


def test_one_click_switches_the_language_and_keeps_the_page(app_env) -> None:
    at = _run_app("boss@shop.test", "en-GB")
    assert staff.preferences(app_env, "boss@shop.test").language == "en"
    at.query_params["payment"] = "SD-1"
    at.sidebar.button(key="switch_language").click().run()
    assert not at.exception
    assert staff.preferences(app_env, "boss@shop.test").language == "ar"
    assert at.query_params["payment"] == "SD-1"
    # AppTest reruns only the page after the first run (no sidebar); the browser test sees the same session flip.
    again = _run_app("boss@shop.test", "en-GB")
    assert again.sidebar.button(key="switch_language").label == "English"
    assert again.sidebar.toggle(key="switch_digits").label == "الأرقام العربية الهندية (٠١٢٣)"


def test_login_screen_speaks_the_browsers_language(app_env) -> None:
    at = _run_app(None, "ar-KW")
    assert at.title[0].value == "سوق دِسك"
    assert [b.label for b in at.button] == ["تسجيل الدخول بحساب الشركة"]
    assert run_page(APP, None).title[0].value == "Souq Desk"
