"""Merchant account look-ups: enabled payment buttons, API key check, deposit status (contract §13)."""

from __future__ import annotations

from urllib.parse import quote

from . import errors
from .limiter import Lane
from .models import DepositStatus, PayButtons
from .resource import Resource
from .wire import data_object, parse_model


class AccountResource(Resource):
    """``client.account``."""

    def button_status(self) -> PayButtons:
        """Which methods the account has enabled and whether it is white-label (gateway limit: 1/min; cache it)."""
        path = "check-payment-button-status"
        envelope = self._client._request("GET", path, retry=True)
        data = data_object(envelope, None, "GET", path, {})
        return parse_model(PayButtons, data, "GET", path, {})

    def check_api_key(self, api_key: str) -> bool:
        """True when the gateway accepts ``api_key`` (sent in the body, without a bearer header)."""
        try:
            self._client._request(
                "POST", "check-merchant-api-key", body={"apiKey": api_key}, auth=False, retry=True
            )
        except (errors.BusinessRefusal, errors.AuthenticationError, errors.ValidationFailed):
            return False
        except errors.GatewayError as exc:
            if len(api_key) >= 4:  # the key under test is a secret too, should the gateway echo it
                exc.message = exc.message.replace(api_key, "[redacted]")
            raise
        return True


class DepositsResource(Resource):
    """``client.deposits``."""

    def status(self, *, track_id: str, lane: Lane = Lane.DEPOSIT, limiter_timeout: float | None = None
               ) -> DepositStatus:
        """Whether the money of one payment has reached the merchant's bank account.

        A status look-up like get-payment-status, so it spends the same budget (§1.6), in the lowest lane.
        """
        path = f"get-deposit-status/{quote(track_id, safe='')}"
        ids = {"track_id": track_id}
        envelope = self._client._request("GET", path, retry=True, ids=ids, limited=True, lane=lane,
                                         limiter_timeout=limiter_timeout)
        tx = data_object(envelope, "transaction", "GET", path, ids)
        return parse_model(DepositStatus, tx, "GET", path, ids)
