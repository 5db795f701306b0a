"""Settlements (finance, admin; viewers read): per deposit day, expected vs deposited, overdue days, the month,
the accountant's CSV, and matching the bank's statement."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import streamlit as st

from dashboard import state, tables
from dashboard.errors import show_error
from dashboard.formatting import kuwait_time, method_label, money, month_name, number, short_day
from dashboard.i18n import N_, _, ngettext
from dashboard.safe import md, md_iso, plain
from services import settlements
from services.money import format_amount, parse_amount
from services.permissions import Action
from services.sentence import Count
from services.timeutil import kuwait_today

STATE_LABELS = {"deposited": N_("deposited"), "partly deposited": N_("partly deposited"), "overdue": N_("OVERDUE"),
                "pending": N_("pending"), "nothing due": N_("—")}
MATCH_LABELS = {settlements.MATCHED: N_("matched"), settlements.PARTLY: N_("PARTLY matched"),
                settlements.UNMATCHED: N_("UNMATCHED"), settlements.MISSING: N_("MISSING from statement"),
                settlements.NOT_UPAYMENTS: N_("other credit")}


def _days(first: date, last: date) -> str:
    return short_day(first) if first == last else _("{first} – {last}").format(first=short_day(first),
                                                                                last=short_day(last))

actor = state.actor()
engine = state.engine()
settings = state.settings()
overdue_after = settings.deposit_overdue_business_days
today = kuwait_today()

st.title(_("Settlements"))
st.caption(_("UPayments deposits captured money on the next Kuwaiti business day (Sunday–Thursday, public holidays "
             "skipped). Expected = captured minus refunds (refunds come out of the balance); deposited = what the "
             "gateway confirms per payment. {overdue}").format(overdue=ngettext(
                 "A payment not deposited {n} business day after capture is overdue.",
                 "A payment not deposited {n} business days after capture is overdue.", overdue_after).format(
                 n=number(overdue_after))))

VIEWS = {"recent": N_("Recent days"), "month": N_("Month")}
view = st.segmented_control(_("View"), list(VIEWS), default="recent", key="settle_view",
                            format_func=lambda v: _(VIEWS[v]))
try:
    if view == "month":
        months = settlements.recent_months(today, 12)
        month = st.selectbox(_("Month"), months, key="settle_month", format_func=lambda m: plain(month_name(m)))
        report = settlements.month_settlement(engine, actor, month or months[0], overdue_after=overdue_after)
    else:
        report = settlements.recent_settlement(engine, actor, overdue_after=overdue_after)
except Exception as exc:
    show_error(exc)
    st.stop()

due = [d for d in report.days if d.day <= today]
cols = st.columns(4)
cols[0].metric(_("Expected so far (KWD)"), md(format_amount(sum(d.expected_fils for d in due), grouping=True)))
cols[1].metric(_("Deposited (KWD)"), md(format_amount(sum(d.deposited_fils for d in due), grouping=True)))
cols[2].metric(_("Difference (KWD)"), md(format_amount(sum(d.difference_fils for d in due), grouping=True)))
cols[3].metric(_("Overdue days"), number(len(report.overdue_days)))
yesterday = today - timedelta(days=1)
due_day = settlements.expected_deposit_day(yesterday)
mine = next((d for d in report.days if d.captured_from <= yesterday <= d.captured_to), None)
if mine is not None:  # on a Friday the Thu–Sat bucket reaches into tomorrow: say up to today
    st.info(_("**Yesterday's money** (captured {days}, due {due}): expected {expected}, deposited {deposited}, "
              "difference {difference} — {state}.").format(
        days=md_iso(_days(mine.captured_from, min(mine.captured_to, today))), due=md_iso(short_day(due_day, year=True)),
        expected=md_iso(money(mine.expected_fils)), deposited=md_iso(money(mine.deposited_fils)),
        difference=md_iso(money(mine.difference_fils)), state=md(_(STATE_LABELS[mine.state]))))
for day in report.overdue_days:
    st.warning(_("Overdue: the deposit of {day} — {payments}, {amount} captured {days} — has not been confirmed by "
                 "UPayments. Check your bank statement below, then ask UPayments support about these payments (see "
                 "“Payments of one deposit day”).").format(
        day=md_iso(short_day(day.day, year=True)),
        payments=ngettext("{n} payment", "{n} payments", day.overdue_payments).format(
            n=number(day.overdue_payments)),
        amount=md_iso(money(day.overdue_fils)), days=md_iso(_days(day.captured_from, day.captured_to))))


def _row(d: settlements.DayRow) -> dict[str, Any]:
    fam = d.expected_by_family
    return {_("Deposit day"): short_day(d.day, year=True),
            _("Captured on"): _days(d.captured_from, d.captured_to), _("Payments"): Count(d.payments),
            _("Captured"): format_amount(d.captured_fils), _("Refunds"): format_amount(d.refunds_fils),
            _("Expected"): format_amount(d.expected_fils), "KNET": format_amount(fam["knet"]),
            _("Cards"): format_amount(fam["card"]), _("Wallets"): format_amount(fam["wallet"] + fam["other"]),
            _("Deposited"): format_amount(d.deposited_fils), _("Difference"): format_amount(d.difference_fils),
            _("Status"): _(STATE_LABELS[d.state])}


st.subheader(_("By deposit day"))
st.caption(_("Amounts in KWD. Each row's money was captured on the days shown (Transactions and Analytics give the "
             "same captured and refund totals for those days)."))
tables.dataframe([_row(d) for d in report.days], key="settle_days")

if actor.can(Action.EXPORT_SETTLEMENTS) and report.days:
    st.download_button(
        _("Download CSV for the accountant"), key="settle_export", mime="text/csv", on_click="ignore",
        file_name=f"settlements-{report.first.isoformat()}-{report.last.isoformat()}.csv",
        data=lambda: "".join(settlements.export_csv(engine, actor, report.first, report.last,
                                                    overdue_after=overdue_after)),
    )

# The day's payments (up to 500 rows) are read and drawn only while the expander is open: every click on the
# page used to pay for them (a third of a warm run at 1,000,000 payments) with the expander closed.
with st.expander(_("Payments of one deposit day"), key="settle_day_open", on_change="rerun") as day_box:
    if day_box.open:
        choices = [d.day for d in report.days if d.payments]
        picked = st.selectbox(_("Deposit day"), choices, key="settle_day",
                              format_func=lambda d: plain(short_day(d, year=True)))
        if picked is not None:
            try:
                lines = settlements.day_payments(engine, actor, picked, overdue_after=overdue_after)
            except Exception as exc:
                show_error(exc)
            else:
                tables.dataframe([{
                    _("Order"): p.order_id, _("Captured on"): short_day(p.captured_day),
                    _("Method"): method_label(p.method),
                    _("Amount"): format_amount(p.amount_fils), _("Refunded"): format_amount(p.refunded_fils),
                    _("Deposited"): _("yes") if p.deposited else (_("OVERDUE") if p.overdue else _("not yet")),
                    _("Deposited at"): kuwait_time(p.deposited_at) if p.deposited_at else "",
                } for p in lines], key="settle_day_rows")

# ------------------------------------------------------------------ bank statement

st.subheader(_("Match your bank statement"))
if not actor.can(Action.MATCH_STATEMENT):
    st.caption(_("Finance and admins can upload the bank's statement here to match it with the expected deposits."))
    st.stop()
st.caption(_("Upload the statement of the account UPayments pays into (CSV or XLSX, with Date, Description and "
             "Credit columns). Credits whose description names UPayments are matched to the expected deposit of "
             "their day; nothing from the file is stored."))
with st.form("settle_statement"):
    upload = st.file_uploader(_("Bank statement"), type=["csv", "xlsx"], key="settle_file",
                              max_upload_size=settlements.MAX_BYTES // 1_048_576)
    tolerance_text = st.text_input(
        _("Tolerance (KWD)"), value=format_amount(settings.statement_tolerance_fils), key="settle_tolerance",
        help=_("A credit within this amount of the expected deposit counts as matched (bank charges, rounding)."))
    submitted = st.form_submit_button(_("Match statement"), type="primary")
if submitted:
    if upload is None:
        st.error(_("Choose the statement file first."))
    else:
        try:
            tolerance = parse_amount(tolerance_text, allow_zero=True)
            st.session_state["settle_match"] = settlements.match_statement(
                engine, state.actor_at_click(Action.MATCH_STATEMENT), upload.getvalue(), upload.name,
                tolerance_fils=tolerance, overdue_after=overdue_after)
        except Exception as exc:  # InvalidAmount, StatementError …: one sentence, nothing kept
            st.session_state.pop("settle_match", None)
            show_error(exc)

result = st.session_state.get("settle_match")
if isinstance(result, settlements.MatchResult):
    st.success(_("Statement read: {matched} matched, {partly} partly matched, {unmatched} unmatched, {missing} "
                 "expected day(s) missing from the statement.").format(
        matched=number(result.count(settlements.MATCHED)), partly=number(result.count(settlements.PARTLY)),
        unmatched=number(result.count(settlements.UNMATCHED)), missing=number(result.count(settlements.MISSING))))
    tables.dataframe([{
        _("Result"): _(MATCH_LABELS[m.status]), _("Day"): short_day(m.day, year=True), _("Row"): m.row or "",
        _("Statement amount"): format_amount(m.amount_fils) if m.row else "",
        _("Expected"): format_amount(m.expected_fils), _("Difference"): format_amount(m.difference_fils),
        _("Description"): m.description, _("Note"): m.note,
    } for m in result.lines], key="settle_match_rows")
