"""The customers search box: the parser (hypothesis: phones in any format and digit set, e-mails, names), the
Arabic folding kept equal between Python and migration 0010's SQL, and name search by index, exact results."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services import customers
from services.customers.names import ARABIC_FOLD, fold, fold_arabic, matches, words
from services.customers.search_box import MAX_QUERY, SearchTextError, parse_query
from services.models import Payment
from services.permissions import Role
from tests.factories import make_db, make_payment, make_staff

ROOT = Path(__file__).resolve().parents[2]
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def _migration() -> object:
    spec = importlib.util.spec_from_file_location("m0010", ROOT / "migrations/versions/0010_customer_name_search.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- the parser

#: Kuwaiti mobile ranges valid in every last six digits (phonenumbers' metadata): 50, 55, 66, 90, 94, 96, 97, 99.
local = st.tuples(st.sampled_from(["50", "55", "66", "90", "94", "96", "97", "99"]),
                  st.integers(min_value=0, max_value=999_999)).map(lambda p: f"{p[0]}{p[1]:06d}")
formats = st.sampled_from(["{d}", "+965{d}", "+965 {a} {b}", "00965{d}", "965-{a}-{b}", "({a}) {b}", "{a}.{b}",
                           "\u200e+965 {a} {b}\u200f", "+965\u00a0{a}\u00a0{b}"])
digit_sets = st.sampled_from([None, ARABIC_INDIC, PERSIAN])


@given(local, formats, digit_sets)
def test_a_mobile_in_any_format_and_digit_set_is_one_customer_key(number: str, shape: str,
                                                                 digits: dict[int, str] | None) -> None:
    typed = shape.format(d=number, a=number[:4], b=number[4:])
    parsed = parse_query(typed.translate(digits) if digits else typed)
    assert parsed.phone_key == f"+965{number}"
    assert parsed.phone_prefix is not None and f"+965{number}".startswith(parsed.phone_prefix)
    assert (parsed.email_key, parsed.name_words) == (None, ())


@given(st.from_regex(r"\A[a-z0-9._]{1,20}@[a-z0-9]{1,20}\.(com|kw|net)\Z"), st.booleans())
def test_an_email_is_its_lower_case_key(address: str, shout: bool) -> None:
    parsed = parse_query(f"  {address.upper() if shout else address} ")
    assert parsed.email_key == f"email:{address}"
    assert parsed.name_words == ()


name_letters = st.sampled_from(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
                               + list("ابتثجحخدذرسشصضطظعغفقكلمنهوي") + list(ARABIC_FOLD))
name_words_st = st.lists(st.text(name_letters, min_size=1, max_size=10), min_size=1, max_size=4)


@given(name_words_st, st.sampled_from([" ", "-", "  ", " - ", "'"]))
def test_names_are_folded_words_that_match_the_name_they_came_from(parts: list[str], sep: str) -> None:
    name = sep.join(parts)
    parsed = parse_query(name)
    assert (parsed.phone_key, parsed.phone_prefix, parsed.email_key) == (None, None, None)
    assert all(w == fold(w) and w for w in parsed.name_words)
    if parsed.name_words:  # a word of only harakat/tatweel folds away
        assert matches(name, parsed.name_words)  # every name finds itself
        assert matches(name, tuple(w[:1] for w in parsed.name_words))  # and by the start of its words


@given(st.text(max_size=MAX_QUERY))
def test_the_parser_reads_any_text_without_raising(query: str) -> None:
    parsed = parse_query(query)
    assert parsed.empty or any((parsed.phone_prefix, parsed.email_key, parsed.name_words))


def test_too_long_or_not_text_is_refused_and_spelling_variants_are_one() -> None:
    with pytest.raises(SearchTextError):
        parse_query("x" * (MAX_QUERY + 1))
    with pytest.raises(SearchTextError):
        parse_query(None)
    assert fold("أحمد") == fold("احمد") == fold("إحمد") == fold("آحمد")
    assert fold("سارة") == fold("ساره") and fold("مصطفى") == fold("مصطفي")
    assert fold("مُحَمَّد") == fold("محمد") == fold("مـحـمـد")
    assert words("Noura Al-Sabah") == ["noura", "al", "sabah"]
    assert matches("Noura Al-Sabah", ("sab", "nou")) and not matches("Khalid", ("ali",))  # word starts only


# ---------------------------------------------------------------- the index, on SQLite (and PostgreSQL)

@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        yield make_db(tmp_path)
        return
    from tests.postgres import postgres_database

    with postgres_database("cust_search") as pg:
        yield pg


TRICKY = ["Noura Al-Sabah", "نُورَة الصَّبَاح", "أحمد العلي", "إيمان", "مصطفى", "آمنة", "سـارة", "ٱلمؤمن", "هيئة",
          "O'Brien", "Zoë", "ÉLISE", "sara_ali", "ل" * 40, "Ahmad\u200fAl"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(name_letters, min_size=1, max_size=12), min_size=1, max_size=3))
def test_the_triggers_fold_names_as_python_does(engine: Engine, parts: list[str]) -> None:
    _fold_check(engine, [*TRICKY, " ".join(parts)])


def _fold_check(engine: Engine, names: list[str]) -> None:
    for name in names:
        make_payment(engine, customer_phone="+96550009999", customer_name=name)
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT words FROM customer_name WHERE key = '+96550009999'")).scalar_one()
        assert stored == fold_arabic(name)
    assert _migration().fold_sql("x").count("replace(") == len(ARABIC_FOLD)  # type: ignore[attr-defined]


@pytest.mark.parametrize("walk", [0, 2, None], ids=["text index", "walk then index", "walk"])
def test_name_search_finds_word_starts_in_both_scripts_exactly_and_follows_renames(
        engine: Engine, walk: int | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both ways of finding a name give the same exact answer: the walk over the most recent customers (all of
    them here) and the text index (the walk shortened to 0 or 2 customers, so the index answers)."""
    from services.customers import queries

    if walk is not None:
        monkeypatch.setattr(queries, "WALK_ROWS", walk)
    finance = make_staff(engine, Role.FINANCE)
    people = {"+96550001111": "Noura Al-Sabah", "+96550002222": "Khalid Ali", "+96550003333": "سارة العلي",
              "+96550004444": "أحمد الكندري", "+96550005555": "Alia Noor"}
    for n, (phone, name) in enumerate(people.items()):
        make_payment(engine, customer_phone=phone, customer_name=name, amount_fils=1_000 + n)
    make_payment(engine, customer_phone="+96550006666")  # no name: never found by name

    def found(query: str) -> list[str]:
        return sorted(r.key for r in customers.find_customers(engine, finance, query=query))

    assert found("nou") == ["+96550001111"]
    assert found("NOUR") == ["+96550001111"]
    assert found("al") == ["+96550001111", "+96550002222", "+96550005555"]  # "Al-Sabah", "Ali", "Alia"
    assert found("ali") == ["+96550002222", "+96550005555"]  # not "Khalid", not "Al-Sabah": word starts
    assert found("noura sab") == ["+96550001111"] and found("sab noura") == ["+96550001111"]
    assert found("noura ali") == []
    assert found("ساره") == ["+96550003333"] and found("سار") == ["+96550003333"]  # ة and ه are one
    assert found("احمد") == ["+96550004444"] and found("أَحْمَد") == ["+96550004444"]  # أ, harakat folded
    assert found("xyz") == [] and found("") == []
    with Session(engine) as session:  # a corrected name: the index follows the summary's trigger
        payment = session.exec(select(Payment).where(col(Payment.customer_phone) == "+96550002222")).one()
        payment.customer_name = "Khaled Al-Ajmi"
        session.add(payment)
        session.commit()
    assert found("ali") == ["+96550005555"] and found("ajm") == ["+96550002222"]
    hits = customers.find_customers(engine, finance, query="a", limit=2)
    assert len(hits) == 2 and all(matches(h.name, ("a",)) for h in hits)  # most recent first, limited
