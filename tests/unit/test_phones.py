"""Phone normalisation: any way a person writes a Kuwaiti mobile gives the same E.164; junk is refused clearly."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from services.phones import InvalidPhone, normalize_phone, wa_digits

ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


@st.composite
def kuwaiti_mobiles(draw: st.DrawFn) -> str:
    """Eight national digits of a valid Kuwaiti mobile (5/6/9…), as libphonenumber defines the ranges."""
    national = draw(st.sampled_from("569")) + draw(st.text("0123456789", min_size=7, max_size=7))
    number = phonenumbers.parse(national, "KW")
    assume(phonenumbers.is_valid_number(number)
           and phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE)
    return national


@st.composite
def written(draw: st.DrawFn, national: str) -> str:
    """The same number as people type it: prefix, grouping, separators, digits script, bidi marks."""
    prefix = draw(st.sampled_from(["", "+965", "00965", "965", "+965 ", "00965 ", "(965) ", "+ 965 "]))
    sep = draw(st.sampled_from(["", " ", "-", ".", "\u00a0"]))
    body = draw(st.sampled_from([national, national[:4] + sep + national[4:],
                                 national[:2] + sep + national[2:5] + sep + national[5:]]))
    text = prefix + body
    text = text.translate(draw(st.sampled_from([str.maketrans({}), ARABIC_INDIC, PERSIAN])))
    left, right = draw(st.sampled_from([("", ""), ("  ", " "), ("\u200e", "\u200f"), ("\u2066", "\u2069")]))
    return left + text + right


@settings(max_examples=300, deadline=None)
@given(data=st.data(), national=kuwaiti_mobiles())
def test_any_formatting_of_a_kuwaiti_mobile_normalises_to_one_e164(data: st.DataObject, national: str) -> None:
    text = data.draw(written(national))
    assert normalize_phone(text) == f"+965{national}"


@settings(max_examples=100, deadline=None)
@given(national=kuwaiti_mobiles())
def test_normalising_is_idempotent_and_wa_digits_drops_only_the_plus(national: str) -> None:
    e164 = normalize_phone(national)
    assert normalize_phone(e164) == e164
    assert wa_digits(e164) == f"965{national}"


@pytest.mark.parametrize("text", ["٠٠٩٦٥ ٥٠٠٠ ٠٠٠٠", "+٩٦٥٥٠٠٠٠٠٠٠", "۵۰۰۰ ۰۰۰۰", "965-5000-0000", "(+965) 5000 0000"])
def test_examples_with_arabic_indic_digits_and_punctuation(text: str) -> None:
    assert normalize_phone(text) == "+96550000000"


def test_other_countries_keep_their_code_and_region_changes_the_default() -> None:
    assert normalize_phone("+966 50 123 4567") == "+966501234567"
    assert normalize_phone("050 123 4567", region="SA") == "+966501234567"
    assert normalize_phone("22345678") == "+96522345678"  # a Kuwaiti landline is a valid number too


@pytest.mark.parametrize(("text", "message"), [
    ("", "Enter a phone number"),
    ("   \u200e ", "Enter a phone number"),
    ("abc", "use digits only"),
    ("5000 00x0", "use digits only"),
    ("1234", "not a valid phone number"),
    ("+965 5000 000", "8 digits"),
    ("+965 1000 0000", "not a valid phone number"),
    ("+", "not a phone number"),
])
def test_invalid_input_is_refused_with_a_sentence(text: str, message: str) -> None:
    with pytest.raises(InvalidPhone, match=message) as info:
        normalize_phone(text)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("value", ["96550000000", "+", "+0123456789", "+965 5000 0000", ""])
def test_wa_digits_wants_e164(value: str) -> None:
    with pytest.raises(InvalidPhone):
        wa_digits(value)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_arbitrary_text_either_normalises_to_e164_or_raises_invalid_phone(text: str) -> None:
    try:
        result = normalize_phone(text)
    except InvalidPhone:
        return
    assert result.startswith("+") and result[1:].isdigit()
    assert phonenumbers.is_valid_number(phonenumbers.parse(result))
