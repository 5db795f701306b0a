"""Refunds: create, cancel (delete) and check (contract §12.1–§12.3)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from . import errors
from .charges import wire_amount
from .models import LegacyRefundStatus, RefundCreated, RefundStatusItem
from .resource import Resource
from .wire import data_object, parse_model


class RefundsResource(Resource):
    """``client.refunds``."""

    def create(
        self,
        *,
        order_id: str,
        amount_fils: int,
        currency: str = "KWD",
        reference: str | None = None,
        customer_name: str | None = None,
        customer_email: str | None = None,
        customer_mobile: str | None = None,
        notify_url: str | None = None,
    ) -> RefundCreated:
        """Refund ``amount_fils`` of the payment whose UPayments order id is ``order_id`` (status ``order_id``).

        Never retried: there is no idempotency key, a repeat is a second refund. On an uncertain error
        (``errors.is_uncertain``) settle with ``check`` instead of sending again.
        """
        _, amount = wire_amount(amount_fils, currency)
        if not order_id:
            raise ValueError("order_id (the UPayments order id from the payment status) is required.")
        body: dict[str, Any] = {"orderId": order_id, "totalPrice": amount}
        optional = {
            "customerFirstName": customer_name,
            "customerEmail": customer_email,
            "customerMobileNumber": customer_mobile,
            "reference": reference,
            "notifyUrl": notify_url,
        }
        body.update({k: v for k, v in optional.items() if v})
        ids = {"order_id": order_id}
        envelope = self._client._request("POST", "create-refund", body=body, ids=ids)
        data = data_object(envelope, None, "POST", "create-refund", ids)
        if data.get("isMultivendorRefund"):
            # §12.1: for split payments no refund is made; the multi-vendor flow is not supported here.
            raise errors.BusinessRefusal(
                "This payment was split between merchants; it needs a multi-vendor refund, which this "
                "dashboard does not make (nothing was refunded)",
                method="POST",
                path="create-refund",
                ids=ids,
            )
        result = parse_model(RefundCreated, data, "POST", "create-refund", ids)
        return result.model_copy(update={"raw": data})

    def delete(self, *, order_id: str, refund_order_id: str) -> None:
        """Cancel a refund that is not executed yet (§16 A2: POST with a JSON body). Never retried."""
        ids = {"order_id": order_id, "refund_order_id": refund_order_id}
        self._client._request(
            "POST", "delete-refund", body={"orderId": order_id, "refundOrderId": refund_order_id}, ids=ids
        )

    def check(self, *, order_id: str) -> list[RefundStatusItem]:
        """Every refund raised on a payment, by its UPayments order id (``check-refund``, §16 A3)."""
        path = f"check-refund/{quote(order_id, safe='')}"
        ids = {"order_id": order_id}
        envelope = self._client._request("GET", path, retry=True, ids=ids)
        data = envelope.get("data")
        items = data.get("refund") if isinstance(data, dict) else None
        if items is None and isinstance(data, dict) and "refunds" in data:
            items = data["refunds"]
        if items is None:
            items = []
        if isinstance(items, dict):
            items = [items]
        if not isinstance(items, list):
            raise errors.InvalidResponse("The answer's data.refund is not a list", method="GET", path=path, ids=ids)
        return [parse_model(RefundStatusItem, item, "GET", path, ids) for item in items]

    def check_status(self, *, order_id: str) -> LegacyRefundStatus:
        """The older single-refund status (``check-refund-status``, §16 A3)."""
        path = f"check-refund-status/{quote(order_id, safe='')}"
        ids = {"order_id": order_id}
        envelope = self._client._request("GET", path, retry=True, ids=ids)
        tx = data_object(envelope, "transaction", "GET", path, ids)
        return parse_model(LegacyRefundStatus, tx, "GET", path, ids)
