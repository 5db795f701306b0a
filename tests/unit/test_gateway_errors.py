"""Error mapping of the gateway client: each answer shape → the right typed error (MockTransport)."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from services.gateway import UPaymentsClient, errors, is_uncertain

TOKEN = "tok_SECRET_123456789"


def client_for(handler, **kw) -> UPaymentsClient:
    kw.setdefault("max_retries", 0)
    return UPaymentsClient("https://gw.test/api/v1/", TOKEN, transport=httpx.MockTransport(handler), **kw)


def answer(status: int, body: object = None, *, text: str | None = None, headers: dict | None = None):
    def handler(request: httpx.Request) -> httpx.Response:
        if text is not None:
            return httpx.Response(status, text=text, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return handler


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (400, {"message": "Bad payload"}, errors.BadRequest),
        (401, {"message": "Not a valid API request"}, errors.AuthenticationError),
        (403, {"message": "Forbidden"}, errors.PermissionDeniedByGateway),
        (404, {"message": "Transaction not found"}, errors.NotFound),
        (409, {"message": "Conflict"}, errors.GatewayStatusError),
        (500, {"message": "Server Error"}, errors.ServerError),
        (502, None, errors.ServerError),
        (503, {"message": "down"}, errors.ServerError),
    ],
)
def test_status_codes_map_to_typed_errors(status, body, cls):
    with client_for(answer(status, body)) as c, pytest.raises(cls) as info:
        c.payments.status(track_id="TRK1")
    assert type(info.value) is cls
    assert info.value.status_code == status
    text = str(info.value)
    assert f"HTTP {status}" in text and "track_id=TRK1" in text and "get-payment-status/TRK1" in text
    assert TOKEN not in text and TOKEN not in repr(info.value)


def test_422_field_errors_object_and_empty_list():
    body = {"message": "The order.amount field is required.", "errors": {"order.amount": ["is required"],
                                                                          "language": "must be en or ar"}}
    with client_for(answer(422, body)) as c, pytest.raises(errors.ValidationFailed) as info:
        c.refunds.create(order_id="UPAY1", amount_fils=1000)
    assert info.value.errors == {"order.amount": ["is required"], "language": ["must be en or ar"]}
    assert "order.amount: is required" in str(info.value)
    c = client_for(answer(422, {"message": "The selected card.token is invalid.", "errors": []}))
    with c, pytest.raises(errors.ValidationFailed) as info:
        c.refunds.create(order_id="UPAY1", amount_fils=1000)
    assert info.value.errors == {}
    assert "The selected card.token is invalid" in str(info.value)


def test_429_carries_retry_after_seconds_and_http_date():
    c = client_for(answer(429, {"message": "Too Many Attempts."}, headers={"Retry-After": "7"}))
    with c, pytest.raises(errors.RateLimited) as info:
        c.refunds.check(order_id="UPAY1")
    assert info.value.retry_after == 7.0
    assert "retry after 7.0 s" in str(info.value)
    date = "Wed, 21 Oct 2015 07:28:00 GMT"  # in the past → 0
    c = client_for(answer(429, {"message": "slow down"}, headers={"Retry-After": date}))
    with c, pytest.raises(errors.RateLimited) as info:
        c.refunds.check(order_id="UPAY1")
    assert info.value.retry_after == 0.0


def test_html_body_is_invalid_response_with_whitelist_hint():
    html = "<html><body>Access denied</body></html>"
    c = client_for(answer(200, text=html, headers={"Content-Type": "text/html"}))
    with c, pytest.raises(errors.InvalidResponse) as info:
        c.account.button_status()
    assert "whitelisted" in str(info.value) and "Access denied" in str(info.value)
    assert is_uncertain(info.value)


def test_html_4xx_is_invalid_response_but_empty_401_is_auth_error():
    page = "<!DOCTYPE html><html><body><p>Access denied: your IP address is not whitelisted.</p></body></html>"
    c = client_for(answer(403, text=page, headers={"Content-Type": "text/html"}))
    with c, pytest.raises(errors.InvalidResponse) as info:
        c.refunds.create(order_id="UPAY1", amount_fils=1000)
    assert info.value.status_code == 403 and "whitelisted" in str(info.value)
    assert not is_uncertain(info.value)  # a front layer refused it: nothing reached the API
    c = client_for(answer(401, text=""))
    with c, pytest.raises(errors.AuthenticationError):
        c.account.button_status()
    c = client_for(answer(429, text="<html>slow down</html>", headers={"Retry-After": "2"}))
    with c, pytest.raises(errors.RateLimited) as limited:
        c.account.button_status()
    assert limited.value.retry_after == 2.0


def test_truncated_json_and_wrong_shapes_are_invalid_response():
    cases = [
        answer(201, text='{"status": true, "data": {"transac'),
        answer(201, [1, 2, 3]),
        answer(201, {"status": True, "data": {"transaction": "nope"}}),
        answer(201, {"status": True, "data": {"transaction": {"total_price": "abc"}}}),
        answer(201, {"message": "no status key"}),
        answer(201, text=""),
    ]
    for handler in cases:
        with client_for(handler) as c, pytest.raises(errors.InvalidResponse) as info:
            c.payments.status(track_id="TRK9")
        assert "track_id=TRK9" in str(info.value)
    with client_for(answer(201, text='{"status": tr')) as c, pytest.raises(errors.InvalidResponse) as info:
        c.payments.status(track_id="TRK9")
    assert "truncated or malformed JSON" in str(info.value)


def test_redirect_status_is_invalid_response():
    c = client_for(answer(302, text="", headers={"Location": "https://login"}))
    with c, pytest.raises(errors.InvalidResponse, match="redirected"):
        c.account.button_status()


def test_status_false_is_business_refusal():
    body = {"status": False, "message": "Refund amount exceeds the paid amount"}
    with client_for(answer(201, body)) as c, pytest.raises(errors.BusinessRefusal) as info:
        c.refunds.create(order_id="UPAY7", amount_fils=5000)
    assert info.value.message == "Refund amount exceeds the paid amount"
    assert str(info.value) == (
        "UPayments refused: Refund amount exceeds the paid amount (POST create-refund, order_id=UPAY7)."
    )
    assert not is_uncertain(info.value)


def test_transport_failures_and_uncertainty():
    def connect_fail(request):
        raise httpx.ConnectError("Connection refused", request=request)

    def read_timeout(request):
        raise httpx.ReadTimeout("timed out", request=request)

    def connect_timeout(request):
        raise httpx.ConnectTimeout("timed out", request=request)

    def dropped(request):
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)

    expectations = [
        (connect_fail, errors.GatewayConnectionError, False),
        (read_timeout, errors.GatewayTimeout, True),
        (connect_timeout, errors.GatewayTimeout, False),
        (dropped, errors.GatewayConnectionError, True),
    ]
    for handler, cls, uncertain in expectations:
        with client_for(handler) as c, pytest.raises(cls) as info:
            c.charges.create(order_id="ORD-1", amount_fils=1500, description="x", return_url="https://r",
                             cancel_url="https://c", notification_url="https://n")
        assert type(info.value) is cls
        assert is_uncertain(info.value) is uncertain, handler.__name__
        assert "order_id=ORD-1" in str(info.value) and "POST charge" in str(info.value)


@pytest.mark.parametrize(
    ("exc", "uncertain"),
    [
        (errors.ServerError("x", status_code=500), True),
        (errors.InvalidResponse("x"), True),
        (errors.InvalidResponse("x", status_code=201), True),
        (errors.InvalidResponse("x", status_code=403), False),
        (errors.BadRequest("x", status_code=400), False),
        (errors.AuthenticationError("x", status_code=401), False),
        (errors.ValidationFailed("x", status_code=422), False),
        (errors.RateLimited("x"), False),
        (errors.BusinessRefusal("x"), False),
        (errors.GatewayTimeout("x", request_sent=True), True),
        (errors.GatewayTimeout("x", request_sent=False), False),
        (ValueError("not ours"), False),
    ],
)
def test_is_uncertain_table(exc, uncertain):
    assert is_uncertain(exc) is uncertain


def test_error_tree():
    assert issubclass(errors.GatewayTimeout, errors.GatewayConnectionError)
    assert issubclass(errors.GatewayConnectionError, errors.GatewayError)
    for cls in (errors.BadRequest, errors.AuthenticationError, errors.PermissionDeniedByGateway,
                errors.NotFound, errors.ValidationFailed, errors.RateLimited, errors.ServerError):
        assert issubclass(cls, errors.GatewayStatusError)
    assert issubclass(errors.InvalidResponse, errors.GatewayError)
    assert issubclass(errors.BusinessRefusal, errors.GatewayError)
    assert errors.status_error_class(599) is errors.ServerError


def test_token_echoed_by_gateway_is_scrubbed_and_never_logged(caplog):
    body = {"message": f"Token {TOKEN} is not valid"}
    caplog.set_level(logging.DEBUG)
    with client_for(answer(401, body)) as c, pytest.raises(errors.AuthenticationError) as info:
        c.payments.status(track_id="T1")
    assert TOKEN not in str(info.value) and "[redacted]" in str(info.value)
    assert TOKEN not in repr(c) and TOKEN not in str(vars(c))
    assert TOKEN not in caplog.text
    assert "get-payment-status/T1 -> 401" in caplog.text


def test_headers_sent_and_check_api_key_without_bearer():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("check-merchant-api-key"):
            ok = json.loads(request.content)["apiKey"] == "good-key"
            return httpx.Response(201 if ok else 401, json={"status": ok, "data": {"isWhiteLabel": False}}
                                  if ok else {"message": "Not a valid API request"})
        return httpx.Response(201, json={"status": True, "data": {"payButtons": {"knet": True}}})

    with client_for(handler, user_agent="SouqDesk/test") as c:
        c.account.button_status()
        assert c.account.check_api_key("good-key") is True
        assert c.account.check_api_key("bad-key") is False
    first = seen[0]
    assert first.headers["authorization"] == f"Bearer {TOKEN}"
    assert first.headers["accept"] == "application/json"
    assert first.headers["user-agent"] == "SouqDesk/test"
    assert str(first.url) == "https://gw.test/api/v1/check-payment-button-status"
    assert all("authorization" not in r.headers for r in seen[1:])
