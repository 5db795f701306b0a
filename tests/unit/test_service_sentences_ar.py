"""Service sentences and table cells in the reader's language and digits (issue #18).

A service raises English built with ``say``; the page shows it through ``dashboard.errors.explain`` /
``explain_md`` (what ``show_error`` renders). In Arabic the sentence comes from the catalog, the values are
bidi-isolated (FSI … PDI), amounts and counts follow the person's digit choice, ids keep Western digits.
Table cells (``safe.cells`` / ``md_cells``) do the same for amounts, counts and dates, never for ids.
"""

from __future__ import annotations

from datetime import date

import pytest

from dashboard import i18n
from dashboard.errors import explain, explain_md
from dashboard.formatting import localise
from dashboard.safe import FSI, PDI, cells, md_cells, md_iso
from services import inputs
from services.money import InvalidAmount, format_amount, format_money, parse_amount
from services.permissions import Role
from services.policy import Policy, configure
from services.refund_state import LABELS
from services.refunds import NotRefundable, OverRefund, RefundError, request_refund
from services.sentence import N_, Count, Sentence, phrase, say
from tests.factories import make_payment, make_staff

ARABIC_DIGITS = set("٠١٢٣٤٥٦٧٨٩")


def _iso(text: str) -> str:
    return f"{FSI}{text}{PDI}"


def test_an_input_check_from_services_inputs_reads_in_arabic_with_the_value_isolated() -> None:
    with pytest.raises(RefundError) as caught:
        inputs.row_id(-7, RefundError, N_("Refund"))
    assert str(caught.value) == "Refund -7 was not found."  # English stays what logs and tests read
    with i18n.use("ar"):
        assert explain(caught.value) == f"لم يُعثر على الاسترداد {_iso('-7')}."
    with i18n.use("en"):
        assert explain(caught.value) == "Refund -7 was not found."


def test_a_too_long_text_says_the_field_and_the_counts_in_the_chosen_digits() -> None:
    problem = inputs.bad_text("x" * 300, N_("note"), max_len=255)
    assert problem == "The note is too long (300 characters; at most 255)."
    with i18n.use("ar", "arab"):
        said = explain(RefundError(problem))
    assert said == f"حقل الملاحظة طويل جدًا ({_iso('٣٠٠')} حرفًا؛ الحد الأقصى {_iso('٢٥٥')})."
    with i18n.use("ar", "latn"):
        assert _iso("300") in explain(RefundError(problem))


def test_an_amount_the_parser_refuses_is_said_in_arabic_and_stays_text() -> None:
    with pytest.raises(InvalidAmount) as caught:
        parse_amount("12,5 *[x](http://e.kw)*")
    with i18n.use("ar"):
        said = explain_md(caught.value)
        value = md_iso(repr("12,5 *[x](http://e.kw)*"))
    assert value.startswith(FSI) and said.startswith(value)
    assert "ليس مبلغًا" in said and "](http" not in said  # escaped inside the isolate: no link


def test_a_refund_refusal_reads_in_arabic_with_amounts_in_arabic_digits_and_the_order_id_western(
        engine, dead_client) -> None:
    finance = make_staff(engine, Role.FINANCE)
    payment = make_payment(engine, amount_fils=10_000, status="paid", upay_order_id="UPAY-1",
                           order_id="SD-261127-7YZ")
    configure(Policy(refund_approval_threshold_fils=100_000))
    with pytest.raises(OverRefund) as caught:
        request_refund(engine, dead_client, finance, payment_pk=payment.id or 0, amount_fils=10_001,
                       reason="customer_request", idempotency_key="k-ar-1")
    assert str(caught.value) == ("10.001 KWD is more than the 10.000 KWD still refundable on payment SD-261127-7YZ; "
                                 "nothing was sent.")
    with i18n.use("ar", "arab"):
        said = explain(caught.value)
    assert said == (f"{_iso('١٠٫٠٠١ د.ك.')} أكثر من {_iso('١٠٫٠٠٠ د.ك.')} المتبقي القابل للاسترداد من الدفعة "
                    f"{_iso('SD-261127-7YZ')}؛ لم يُرسل أي شيء.")


def test_not_refundable_reasons_and_gateway_phrases_are_translated_in_turn(engine, dead_client) -> None:
    finance = make_staff(engine, Role.FINANCE)
    pending = make_payment(engine, status="pending", upay_order_id="U", order_id="SD-1")
    configure(Policy(refund_approval_threshold_fils=100_000))
    with pytest.raises(NotRefundable) as caught:
        request_refund(engine, dead_client, finance, payment_pk=pending.id or 0, amount_fils=1,
                       reason="customer_request", idempotency_key="k-ar-2")
    with i18n.use("ar"):
        assert explain(caught.value) == (f"الدفعة {_iso('SD-1')} ما زالت بانتظار الدفع؛ لا يمكن استرداد إلا "
                                         "الدفعات المدفوعة.")
    nested = say("Refund #{id} was not cancelled: {why}", id=12,
                 why=say("UPayments refused {refused}: {reason}; {kept}.", refused=phrase(N_("the refund")),
                         reason="Insufficient balance", kept=phrase(N_("nothing was refunded"))))
    with i18n.use("ar", "arab"):
        said = explain(RefundError(nested))
    # the refund id keeps Western digits; the gateway's own words stay as written; phrases are Arabic, not isolated
    assert said == (f"لم يُلغَ الاسترداد رقم {_iso('12')}: رفضت UPayments الاسترداد: {_iso('Insufficient balance')}"
                    "؛ لم يُسترد أي مبلغ.")


def test_table_cells_follow_the_digit_choice_for_amounts_counts_and_dates_never_for_ids() -> None:
    row = {"Amount": format_amount(1_234_500, grouping=True), "Total": format_money(12_500), "Order": "SD-261127-7YZ",
           "Track id": "100200300", "#": 42, "Payments": Count(1234), "Day": date(2026, 11, 24),
           "Phone": "+96599390361", "Status": phrase(LABELS["refunded"])}
    with i18n.use("en"):
        english = cells([row])[0]
    assert english == {**row, "Status": "Refunded"}  # English: unchanged text (Count stays a number)
    with i18n.use("ar", "arab"):
        arabic = cells([row])[0]
        table = md_cells([row])[0]
    assert arabic["Amount"] == "١٬٢٣٤٫٥٠٠" and arabic["Total"] == "١٢٫٥٠٠ د.ك."
    assert arabic["Payments"] == "١٬٢٣٤" and set(arabic["Day"]) & ARABIC_DIGITS and "نوفمبر" in arabic["Day"]
    assert arabic["Status"] == "المسترد"
    for key in ("Order", "Track id", "#", "Phone"):  # ids, track ids, row numbers and phones keep 0-9
        assert arabic[key] == row[key]
    assert table["Amount"] == "١٬٢٣٤٫٥٠٠" and table["Order"] == "SD\\-261127\\-7YZ"
    with i18n.use("ar", "latn"):
        western = cells([row])[0]
    assert western["Amount"] == "1,234.500" and not set(western["Total"]) & ARABIC_DIGITS


def test_an_object_dataframe_keeps_the_amounts_it_was_built_from() -> None:
    import pandas as pd

    frame = pd.DataFrame({"Amount": [format_amount(5_000), format_amount(12_345)], "Order": ["SD-1", "SD-2"]},
                         dtype=object)  # pandas 3 infers a string dtype otherwise, which drops the Amount
    with i18n.use("ar", "arab"):
        shown = cells(frame)
    assert list(shown["Amount"]) == ["٥٫٠٠٠", "١٢٫٣٤٥"] and list(shown["Order"]) == ["SD-1", "SD-2"]


def test_localise_leaves_plain_values_alone() -> None:
    with i18n.use("ar", "arab"):
        assert localise(12) == 12 and localise("SD-12") == "SD-12" and localise(True) is True
        assert isinstance(say("{n} x", n=Count(3)), Sentence)
