"""§18 F5 parser properties: a notification reads the same by query string, form body or JSON body, and no
delivery, whatever its query and body, raises anything but UnreadableNotification."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from hypothesis import given, settings
from hypothesis import strategies as st

from services.gateway import parse_notification
from services.gateway.redirect import UnreadableNotification
from services.sync.receive import transport_of

_ID = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789", min_size=1, max_size=32)
FIELDS = st.fixed_dictionaries({
    "track_id": _ID, "result": st.sampled_from(["CAPTURED", "NOT CAPTURED", "CANCELED"]),
    "order_id": _ID, "payment_type": st.sampled_from(["knet", "card", "cc"]),
    "invoice_id": st.integers(1, 10**7).map(str), "upay_order_id": _ID,
})


@settings(max_examples=150, deadline=None)
@given(FIELDS)
def test_query_form_and_json_read_the_same(fields: dict[str, str]) -> None:
    by_query = parse_notification(b"", None, query=urlencode(fields))
    by_form = parse_notification(urlencode(fields).encode(), "application/x-www-form-urlencoded")
    by_json = parse_notification(json.dumps(fields).encode(), "application/json")
    for parsed in (by_form, by_json):
        assert parsed.model_dump(exclude={"raw"}) == by_query.model_dump(exclude={"raw"})
    assert by_query.track_id == fields["track_id"] and by_query.upay_order_id == fields["upay_order_id"]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.binary(max_size=300), st.sampled_from([None, "application/json", "text/plain",
                                                                         "application/x-www-form-urlencoded"]))
def test_any_query_and_body_parse_or_are_unreadable(query: str, body: bytes, content_type: str | None) -> None:
    try:
        parsed = parse_notification(body, content_type, query=query)
    except UnreadableNotification as exc:
        assert str(exc)  # one sentence for the inbox
    else:
        assert isinstance(parsed.merchant_params, dict)
    kind = transport_of("GET" if not body else "POST", body, content_type, query)
    assert kind in {"get-query", "get-empty", "post-form", "post-json", "post-query", "post-empty"}


def test_the_body_wins_over_the_query_for_the_same_field() -> None:
    parsed = parse_notification(b"result=CAPTURED", "application/x-www-form-urlencoded",
                                query="result=NOT+CAPTURED&shop=7")
    assert parsed.result == "CAPTURED" and parsed.merchant_params == {"shop": "7"}
