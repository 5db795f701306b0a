"""The client against the contract's documented answers (tests/data/gateway/), never the sandbox's extras (§18).

Each answer is replayed by a transport that also records what the client sent, so the request shapes are checked
against the contract at the same time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.gateway import (
    RefundCreated,
    SplitRefundNeeded,
    UPaymentsClient,
    parse_notification,
    parse_redirect,
)
from services.refunds.settle import refund_id_in

DATA = Path(__file__).resolve().parents[1] / "data" / "gateway"
UPAY = "ME3OdxVO6m2022101012552551446691694936179696991736506ac732af12"


def documented(name: str) -> dict[str, Any]:
    answer: dict[str, Any] = json.loads((DATA / name).read_text())
    return answer


class Replay:
    """Answers every request with one documented body (HTTP 201) and keeps the requests."""

    def __init__(self, name: str) -> None:
        self.body = documented(name)
        self.sent: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return httpx.Response(201, json=self.body)

    def json_sent(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.sent[-1].content)
        return body


@pytest.fixture
def replay() -> Iterator[Any]:
    clients: list[UPaymentsClient] = []

    def make(name: str) -> tuple[UPaymentsClient, Replay]:
        handler = Replay(name)
        client = UPaymentsClient("https://sandboxapi.upayments.com/api/v1/", "jtest123",
                                 transport=httpx.MockTransport(handler), max_retries=0)
        clients.append(client)
        return client, handler

    yield make
    for client in clients:
        client.close()


def test_payment_status_reads_the_documented_transaction(replay) -> None:
    client, _ = replay("payment_status.json")
    tx = client.payments.status(track_id="GWdK07j0XPriuCbzimCHh5MmyrZuSd2J")
    assert (tx.upay_order_id, tx.merchant_order_id, tx.result) == (UPAY, "202210101255255144669", "CAPTURED")
    assert (tx.amount_fils, tx.currency, tx.method) == (10_000, "KWD", "card")  # no payment_method: cc → card


@pytest.mark.parametrize("name", ["create_refund.json", "create_refund_snake.json"])
def test_create_refund_reads_both_casings_and_the_f3_suffix_holds(replay, name) -> None:
    client, sent = replay(name)
    created = client.refunds.create(order_id=UPAY, amount_fils=2_500)
    assert isinstance(created, RefundCreated)
    assert created.refund_order_id == "HsUDgrRtCbzbuJFTdH9QyMLNkgaFcKMU"
    assert refund_id_in(created.order_id) == created.refund_order_id  # §18 F3
    body = sent.json_sent()
    assert body == {"orderId": UPAY, "totalPrice": 2.5}  # §12.1 request shape (amount as a JSON number)
    assert b'"totalPrice":2.500' in sent.sent[-1].content  # never through float


@pytest.mark.parametrize("name", ["create_refund_split.json", "create_refund_split_prose.json"])
def test_a_split_payment_answer_is_needs_split_in_either_spelling(replay, name) -> None:
    client, _ = replay(name)
    answer = client.refunds.create(order_id=UPAY, amount_fils=2_500)
    assert isinstance(answer, SplitRefundNeeded) and answer.order_id == UPAY
    assert [(e.refund_request_id, e.total_paid_fils, e.refunded_fils, e.remaining_fils) for e in answer.entries] == [
        ("1187", 50_000, 0, 50_000), ("1188", 25_500, 5_500, 20_000)]


def test_check_refund_reads_exactly_the_documented_item(replay) -> None:
    client, _ = replay("check_refund.json")
    items = client.refunds.check(order_id=UPAY)
    assert [(i.is_refunded, i.refund_order_id) for i in items] == [(True, None), (False, None)]
    assert refund_id_in(items[0].order_id) == "HsUDgrRtCbzbuJFTdH9QyMLNkgaFcKMU"


def test_multivendor_refund_request_and_both_nestings_of_the_problem_lists(replay) -> None:
    split = SplitRefundNeeded.model_validate({"order_id": UPAY})
    entries = replay("create_refund_split.json")[0].refunds.create(order_id=UPAY, amount_fils=1).entries
    assert split.order_id == UPAY
    client, sent = replay("create_multivendor_refund.json")
    result = client.refunds.create_split(order_id=UPAY, amounts={"1187": 10_000, "1188": 4_000}, entries=entries)
    body = sent.json_sent()
    assert body["orderId"] == UPAY and [e["amountToRefund"] for e in body["refundPayload"]] == [10, 4]
    assert body["refundPayload"][1]["totalPaid"] == "25.500" and body["refundPayload"][1]["refundedAmount"] == 5.5
    assert [(g.generated_invoice_id, g.amount_fils) for g in result.generated] == [("5948883", 10_000)]
    assert [e["ibanNumber"] for e in result.insufficient] == ["KW31NBOK0000000000002010177457"]
    nested_client, _ = replay("create_multivendor_refund_nested.json")
    nested = nested_client.refunds.create_split(order_id=UPAY, amounts={"1187": 60_000}, entries=entries)
    assert nested.generated == [] and [e["refundRequestId"] for e in nested.issues] == [1187]


def test_delete_calls_send_the_documented_bodies(replay) -> None:
    client, sent = replay("delete_refund.json")
    client.refunds.delete(order_id="ME3OdxVO6m16993534896541HsUDgrRtCbzbuJFTdH9QyMLNkgaFcKMU",
                          refund_order_id="HsUDgrRtCbzbuJFTdH9QyMLNkgaFcKMU")
    assert set(sent.json_sent()) == {"orderId", "refundOrderId"}
    client, sent = replay("delete_multivendor_refund.json")
    client.refunds.delete_split(generated_invoice_id="5948883", order_id="ME3ORF", refund_order_id="R" * 32,
                                refund_arn="202311074314067023726014116806")
    assert set(sent.json_sent()) == {"generatedInvoiceId", "orderId", "refundOrderId", "refundArn"}


def test_the_documented_redirect_with_live_extras_parses_the_same_as_a_query_only_notification() -> None:
    url = (DATA / "redirect_url.txt").read_text().strip()
    redirect = parse_redirect(url)
    assert (redirect.payment_type, redirect.method, redirect.upay_order_id) == ("card", "card", UPAY)  # §18 F7
    assert redirect.invoice_id == "784" and redirect.trn_udf == "test data"  # F8: kept, opaque
    by_get = parse_notification(b"", None, query=url.split("?", 1)[1].replace(" ", "%20"))  # §18 F5
    assert by_get.model_dump() == redirect.model_dump()
