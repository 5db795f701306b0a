"""The search filter: validation, date presets, and the URL round trip that makes a view bookmarkable."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.search import (
    METHODS,
    STATUSES,
    SearchFilter,
    filter_from_query,
    filter_to_query,
    preset_range,
)

TODAY = date(2026, 11, 24)
_stripped = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1, max_size=40)


@st.composite
def search_filters(draw: st.DrawFn) -> SearchFilter:
    days = sorted(draw(st.lists(st.dates(date(2020, 1, 1), date(2030, 12, 31)), min_size=2, max_size=2)))
    amounts = sorted(draw(st.lists(st.integers(0, 1_000_000_000), min_size=2, max_size=2)))
    keep = [draw(st.booleans()) for _ in range(4)]

    def maybe(strategy: st.SearchStrategy[str]) -> str | None:
        return draw(st.none() | strategy)

    return SearchFilter(
        day_from=days[0] if keep[0] else None,
        day_to=days[1] if keep[1] else None,
        statuses=draw(st.frozensets(st.sampled_from(STATUSES))),
        families=draw(st.frozensets(st.sampled_from(("knet", "card", "wallet")))),
        methods=draw(st.frozensets(st.sampled_from(METHODS))),
        amount_min=amounts[0] if keep[2] else None,
        amount_max=amounts[1] if keep[3] else None,
        phone=maybe(st.sampled_from(("+96550000000", "+96566123456", "+966501234567", "+96522345678"))),
        email=maybe(st.emails().map(str.lower)),
        order_id=maybe(_stripped),
        track_id=maybe(_stripped),
        payment_id=maybe(_stripped),
        reference=maybe(_stripped),
        text=maybe(_stripped),
        created_by=maybe(st.emails().map(str.lower)),
    )


@settings(max_examples=300, deadline=None)
@given(search_filters())
def test_url_round_trip_keeps_every_filter(flt: SearchFilter) -> None:
    params = filter_to_query(flt)
    assert all(isinstance(k, str) and isinstance(v, str) and v for k, v in params.items())
    warnings: list[str] = []
    assert filter_from_query(params, warnings) == flt
    assert warnings == []


def test_url_form_is_short_and_readable() -> None:
    flt = SearchFilter(day_from=date(2026, 11, 1), day_to=date(2026, 11, 24), statuses={"paid", "failed"},
                       families={"knet"}, amount_min=12_500, amount_max=100_000, phone="+96550000000",
                       email="a@b.test", text="noura")
    assert filter_to_query(flt) == {"from": "2026-11-01", "to": "2026-11-24", "status": "failed,paid",
                                    "family": "knet", "min": "12.500", "max": "100.000",
                                    "phone": "+96550000000", "email": "a@b.test", "q": "noura"}
    assert filter_to_query(SearchFilter()) == {}


def test_garbage_in_the_url_is_ignored_with_a_warning() -> None:
    warnings: list[str] = []
    flt = filter_from_query({
        "from": "yesterday", "to": "2026-13-40", "status": "paid,bogus,,PAID", "family": "crypto",
        "method": "knet,visa", "min": "12,5", "max": "abc", "phone": "12", "email": "not-an-email",
        "q": "x" * 300, "order": "  A-1  ", "utm_source": "whatsapp",
    }, warnings)
    assert flt == SearchFilter(statuses={"paid"}, methods={"knet"}, order_id="A-1", text="x" * 100)
    joined = " ".join(warnings)
    for fragment in ("start date", "end date", "'bogus'", "'crypto'", "'visa'", "minimum amount",
                     "maximum amount", "phone", "e-mail", "cut to 100"):
        assert fragment in joined, fragment
    assert filter_from_query({}) == SearchFilter()


def test_people_typed_values_are_normalised() -> None:
    flt = filter_from_query({"phone": "٠٠٩٦٥ ٥٠٠٠ ٠٠٠٠", "min": "١٢٫٥", "email": " Noura@Mail.TEST ",
                             "by": "Sara@Shop.test", "status": ["failed", "ignored second value"]})
    assert (flt.phone, flt.amount_min, flt.email, flt.created_by) == ("+96550000000", 12_500, "noura@mail.test",
                                                                      "sara@shop.test")
    assert flt.statuses == frozenset({"failed"})


def test_swapped_ranges_are_swapped_back_with_a_note() -> None:
    warnings: list[str] = []
    flt = filter_from_query({"from": "2026-11-24", "to": "2026-11-01", "min": "50", "max": "5"}, warnings)
    assert (flt.day_from, flt.day_to, flt.amount_min, flt.amount_max) == (date(2026, 11, 1), date(2026, 11, 24),
                                                                          5_000, 50_000)
    assert len(warnings) == 2


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"statuses": {"refunded"}}, "Unknown status 'refunded'"),
    ({"families": {"crypto"}}, "Unknown payment family 'crypto'"),
    ({"methods": {"visa"}}, "Unknown payment method 'visa'"),
    ({"amount_min": -1}, "zero or more"),
    ({"amount_min": 5, "amount_max": 4}, "minimum amount is larger"),
    ({"day_from": date(2026, 2, 2), "day_to": date(2026, 2, 1)}, "start date is after"),
    ({"text": "x" * 101}, "limited to 100"),
])
def test_invalid_filters_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SearchFilter(**kwargs)


def test_presets_are_kuwait_calendar_day_ranges() -> None:
    assert preset_range("today", TODAY) == (TODAY, TODAY)
    assert preset_range("last_7_days", TODAY) == (date(2026, 11, 18), TODAY)
    assert preset_range("this_month", TODAY) == (date(2026, 11, 1), TODAY)
    assert preset_range("this_month", date(2026, 3, 1)) == (date(2026, 3, 1), date(2026, 3, 1))
    flt = SearchFilter.for_preset("last_7_days", TODAY, statuses={"paid"})
    assert (flt.day_from, flt.day_to, flt.statuses) == (date(2026, 11, 18), TODAY, frozenset({"paid"}))
    with pytest.raises(ValueError, match="Unknown date preset"):
        preset_range("last_year", TODAY)


def test_blank_values_mean_no_filter_and_sets_are_frozen() -> None:
    flt = SearchFilter(statuses=["paid", "paid"], order_id="  ", text="", email=" ")  # type: ignore[arg-type]
    assert flt == SearchFilter(statuses={"paid"}) and isinstance(flt.statuses, frozenset)
    assert hash(flt) == hash(SearchFilter(statuses=frozenset({"paid"})))
    assert SearchFilter().is_empty() and not flt.is_empty()
    assert flt.dimension_only() and not SearchFilter(text="x").dimension_only()
    assert flt.with_changes(text="oud").text == "oud"
