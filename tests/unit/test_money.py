"""Property tests for services.money: exact minor units, refusal instead of rounding, never a float."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from services.money import (
    EXPONENTS,
    MAX_MAJOR_UNITS,
    InvalidAmount,
    exponent,
    format_amount,
    format_money,
    parse_amount,
    parse_gateway_amount,
    to_decimal,
)

THREE = ["KWD", "BHD", "OMR"]
TWO = ["SAR", "USD", "EUR", "QAR", "AED"]
currencies = st.sampled_from(sorted(EXPONENTS))


@st.composite
def amounts(draw, min_minor: int = 1):
    """(currency, minor units) within the accepted range."""
    cur = draw(currencies)
    top = int(MAX_MAJOR_UNITS) * 10 ** exponent(cur)
    return cur, draw(st.integers(min_value=min_minor, max_value=top))


def test_exponents():
    assert all(exponent(c) == 3 for c in THREE) and all(exponent(c) == 2 for c in TWO)
    assert exponent("kwd") == 3
    with pytest.raises(InvalidAmount):
        exponent("JPY")


@given(amounts())
def test_format_then_parse_round_trips(case):
    cur, minor = case
    text = format_amount(minor, cur)
    assert len(text.split(".")[1]) == exponent(cur)  # always exactly the currency's decimals
    assert parse_amount(text, cur) == minor
    assert parse_amount(format_amount(minor, cur, grouping=True), cur) == minor
    assert parse_amount(format_money(minor, cur), cur) == minor
    assert parse_amount(format_money(minor, cur, lang="ar"), cur) == minor


@given(amounts())
def test_to_decimal_is_exact(case):
    cur, minor = case
    d = to_decimal(minor, cur)
    assert d.as_tuple().exponent == -exponent(cur)
    assert int(d.scaleb(exponent(cur))) == minor
    assert parse_amount(d, cur) == minor
    assert parse_gateway_amount(str(d), cur) == minor


@given(amounts(), st.integers(min_value=1, max_value=9), st.integers(min_value=0, max_value=3))
def test_extra_decimals_are_refused_not_rounded(case, extra_digit, extra_zeros):
    cur, minor = case
    text = format_amount(minor, cur) + "0" * extra_zeros + str(extra_digit)
    with pytest.raises(InvalidAmount):
        parse_amount(text, cur)
    with pytest.raises(InvalidAmount):
        parse_gateway_amount(text, cur)


@given(amounts(), st.integers(min_value=0, max_value=4))
def test_trailing_zeros_are_fine(case, zeros):
    cur, minor = case
    assert parse_amount(format_amount(minor, cur) + "0" * zeros, cur) == minor


@given(amounts())
def test_negatives_are_refused(case):
    cur, minor = case
    for value in (f"-{format_amount(minor, cur)}", -to_decimal(minor, cur), -minor):
        with pytest.raises(InvalidAmount):
            parse_amount(value, cur)


@given(st.floats(allow_nan=True, allow_infinity=True), currencies)
def test_floats_are_never_accepted(value, cur):
    with pytest.raises(InvalidAmount):
        parse_amount(value, cur)


@given(st.text(max_size=20), currencies)
def test_garbage_is_refused_or_parsed_exactly(text, cur):
    """Any text either raises InvalidAmount or yields minor units that format back to the same number."""
    try:
        minor = parse_amount(text, cur)
    except InvalidAmount:
        return
    assert isinstance(minor, int) and minor > 0
    assert Decimal(format_amount(minor, cur)) * 10 ** exponent(cur) == minor


@pytest.mark.parametrize(
    "text",
    ["", " ", "abc", "1.2.3", "1e3", "0x10", "NaN", "Infinity", "--1", "+-1", "1 2 3.4.5", ".", "KWD", "1..2"],
)
def test_garbage_examples(text):
    with pytest.raises(InvalidAmount):
        parse_amount(text, "KWD")


@pytest.mark.parametrize("text", ["12,5", "1,23", "1,2345.000", ",5", "5,", "12,50.000"])
def test_decimal_comma_is_refused_not_read_as_thousands(text):
    # "12,5" typed by someone meaning 12.5 must not become 125 KWD
    with pytest.raises(InvalidAmount):
        parse_amount(text, "KWD")


def test_examples_and_arabic():
    assert parse_amount("12.5", "KWD") == 12500
    assert parse_amount("١٢٫٥٠٠", "KWD") == 12500
    assert parse_amount("1,234.5", "KWD") == 1234500
    assert parse_amount("١٬٢٣٤٫٥", "KWD") == 1234500
    assert parse_amount("12.500 KWD", "KWD") == 12500
    assert parse_amount(Decimal("12.5"), "USD") == 1250
    assert parse_amount(3, "KWD") == 3000
    assert format_money(1234500, "KWD") == "1,234.500 KWD"
    assert format_money(12500, "KWD", lang="ar") == "١٢٫٥٠٠ د.ك"
    assert format_amount(5, "USD") == "0.05"


def test_zero_and_limits():
    with pytest.raises(InvalidAmount):
        parse_amount("0", "KWD")
    assert parse_amount("0", "KWD", allow_zero=True) == 0
    with pytest.raises(InvalidAmount):
        parse_amount(str(MAX_MAJOR_UNITS + 1), "KWD")
    with pytest.raises(InvalidAmount):
        parse_amount(True, "KWD")


def test_gateway_amounts():
    assert parse_gateway_amount("10.000", "KWD") == 10000
    assert parse_gateway_amount("10", "KWD") == 10000
    assert parse_gateway_amount(" 2.5 ", "KWD") == 2500
    assert parse_gateway_amount(10, "KWD") == 10000
    assert parse_gateway_amount(None) is None and parse_gateway_amount("") is None
    assert parse_gateway_amount("0.000", "KWD") == 0
    assert parse_gateway_amount(0.1, "KWD") == 100  # type: ignore[arg-type]  # a float that slipped through json.loads stays exact
    with pytest.raises(InvalidAmount):
        parse_gateway_amount("10.0001", "KWD")


@given(amounts())
def test_gateway_amount_from_json_float_is_exact(case):
    cur, minor = case
    as_float = float(to_decimal(minor, cur))
    assume(repr(as_float) == repr(float(str(to_decimal(minor, cur)))))
    assert parse_gateway_amount(as_float, cur) == minor  # type: ignore[arg-type]
