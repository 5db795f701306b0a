"""Refunds: create, cancel (delete), check (§12.1–§12.3); split payments' per-vendor refunds (§12.4–§12.5)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import quote

from . import errors
from .charges import wire_amount
from .models import LegacyRefundStatus, RefundCreated, RefundStatusItem
from .resource import Resource
from .split import SplitRefundEntry, SplitRefundNeeded, SplitRefundResult, is_split_answer
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
    ) -> RefundCreated | SplitRefundNeeded:
        """Refund ``amount_fils`` of the payment whose UPayments order id is ``order_id`` (status ``order_id``).

        Never retried: there is no idempotency key, a repeat is a second refund. On an uncertain error
        (``errors.is_uncertain``) settle with ``check`` instead of sending again. A split payment refunds
        nothing and answers :class:`SplitRefundNeeded` (then use :meth:`create_split`).
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
        if is_split_answer(data):  # §12.1, §18 F4: nothing was refunded; per-vendor amounts are needed
            payload = data.get("refundPayload")
            if not isinstance(payload, list) or not all(isinstance(e, dict) for e in payload):
                raise errors.InvalidResponse("The split-payment answer has no refundPayload list", method="POST",
                                             path="create-refund", ids=ids)
            try:
                entries = [SplitRefundEntry.parse(e, currency) for e in payload]
            except ValueError as exc:
                raise errors.InvalidResponse(f"A refundPayload entry could not be read ({exc})", method="POST",
                                             path="create-refund", ids=ids) from None
            return SplitRefundNeeded(order_id=data.get("orderId") or order_id, entries=entries, raw=data)
        result = parse_model(RefundCreated, data, "POST", "create-refund", ids)
        return result.model_copy(update={"raw": data})

    def create_split(self, *, order_id: str, amounts: dict[str, int], entries: list[SplitRefundEntry],
                     currency: str = "KWD") -> SplitRefundResult:
        """``create-multivendor-refund``: refund ``amounts`` (refund request id → minor units) from the vendors.

        ``entries`` are the ones :meth:`create` answered, sent back unchanged but for ``amountToRefund``.
        Never retried (a repeat is a second refund); on an uncertain error settle with ``check``.
        """
        payload = []
        for entry in entries:
            fils = amounts.get(entry.refund_request_id, 0)
            amount = wire_amount(fils, currency)[1] if fils else 0
            # sent back as received; numbers the JSON parser made floats go back exactly as written (repr)
            echo = {k: Decimal(repr(v)) if isinstance(v, float) else v for k, v in entry.raw.items()}
            payload.append({**echo, "amountToRefund": amount})
        ids = {"order_id": order_id}
        body = {"orderId": order_id, "refundPayload": payload, "isMultivendorRefund": True}
        envelope = self._client._request("POST", "create-multivendor-refund", body=body, ids=ids)
        data = data_object(envelope, None, "POST", "create-multivendor-refund", ids)
        try:
            return SplitRefundResult.parse(data, currency)
        except ValueError as exc:
            raise errors.InvalidResponse(f"The multi-vendor refund answer could not be read ({exc})", method="POST",
                                         path="create-multivendor-refund", ids=ids) from None

    def delete_split(self, *, generated_invoice_id: str, order_id: str, refund_order_id: str,
                     refund_arn: str | None) -> None:
        """``delete-multivendor-refund``: cancel one per-vendor refund not executed yet. Never retried."""
        ids = {"order_id": order_id, "refund_order_id": refund_order_id}
        body = {"generatedInvoiceId": generated_invoice_id, "orderId": order_id, "refundOrderId": refund_order_id,
                "refundArn": refund_arn or ""}
        self._client._request("POST", "delete-multivendor-refund", body=body, ids=ids)

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
