"""Binding check-refund elements to our refunds from the documented shape alone (§18 F2, F3)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from services.gateway import RefundStatusItem
from services.models import Refund, RefundState
from services.refunds.settle import _unmatched, bind, refund_id_in

UPAY = "ME3OdxVO6m2022101012552551446691694936179696991736506ac732af12"
T0 = datetime(2026, 11, 1, 9, tzinfo=UTC)


def _refund(pk: int, state: RefundState, order_id: str | None = None, refund_order_id: str | None = None,
            minutes: int = 0) -> Refund:
    return Refund(id=pk, payment_pk=1, idempotency_key=f"k{pk}", amount_fils=1000, currency="KWD",
                  reason="customer_request", requested_by="a@example.com", state=state, created_at=T0,
                  local_day=T0.date().isoformat(), updated_at=T0, sent_at=T0 + timedelta(minutes=minutes),
                  gateway_order_id=order_id, gateway_refund_order_id=refund_order_id)


def _item(order_id: str | None, refunded: bool = False) -> RefundStatusItem:
    return RefundStatusItem.model_validate({"order_id": order_id, "is_refunded": refunded,
                                            "refunded_date": "2026-11-02 10:00:00" if refunded else None})


def test_the_refund_id_is_the_last_32_characters_of_the_refund_order_id() -> None:
    rid = "HsUDgrRtCbzbuJFTdH9QyMLNkgaFcKMU"
    assert refund_id_in("ME3OdxVO6m1795784036372583" + rid) == rid
    assert refund_id_in(rid) is None and refund_id_in(None) is None and refund_id_in("x" * 40 + "-" * 32) is None


def test_elements_bind_by_own_order_id_or_by_the_f3_suffix() -> None:
    rid = "A" * 32
    by_id = _refund(1, RefundState.INITIATED, order_id="ME3ORF1" + "B" * 32)
    by_suffix = _refund(2, RefundState.INITIATED, refund_order_id=rid, minutes=1)  # orderId never stored
    items = [_item("ME3ORF9" + rid, refunded=True), _item("ME3ORF1" + "B" * 32)]
    bound = bind(items, [by_id, by_suffix], UPAY)
    assert bound[1] == [items[1]] and bound[2] == [items[0]]


def test_without_own_ids_elements_bind_by_creation_order_only_when_the_counts_agree() -> None:
    old, new = _refund(1, RefundState.REFUNDED, minutes=0), _refund(2, RefundState.INITIATED, minutes=5)
    gone = _refund(3, RefundState.CANCELLED, minutes=2)  # deleted refunds drop out of check-refund
    items = [_item(UPAY, refunded=True), _item(UPAY)]  # a gateway echoing the payment's id: no own ids
    bound = bind(items, [new, gone, old], UPAY)
    assert bound == {1: [items[0]], 2: [items[1]]}
    assert bind(items[:1], [new, old], UPAY) == {}  # one missing: nothing can be said by position
    # an unconfirmed intent is whatever the gateway lists beyond ours
    assert _unmatched([*items, _item(UPAY)], [old, new], UPAY) == [_item(UPAY)]
    assert _unmatched(items, [old, new], UPAY) == []


def test_a_split_refund_binds_only_when_every_vendor_part_is_listed() -> None:
    split = _refund(1, RefundState.INITIATED)
    split.split_generated = json.dumps([{"order_id": "ME3ORF1" + "C" * 32, "refund_order_id": "C" * 32},
                                        {"order_id": "ME3ORF2" + "D" * 32, "refund_order_id": "D" * 32},
                                        {"order_id": "ME3ORF3" + "E" * 32, "deleted": True}])
    both = [_item("ME3ORF2" + "D" * 32, refunded=True), _item("ME3ORF1" + "C" * 32, refunded=True)]
    assert bind(both, [split], UPAY) == {1: [both[1], both[0]]}
    assert bind(both[:1], [split], UPAY) == {}  # one vendor's refund missing: not bound
