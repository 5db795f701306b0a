"""Settlements (finance, admin; viewers read): per deposit day, expected vs deposited, overdue days, the month,
the accountant's CSV, and matching the bank's statement."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import streamlit as st

from dashboard import state
from dashboard.errors import show_error
from dashboard.formatting import method_label, money
from dashboard.safe import cells, md, plain
from services import settlements
from services.money import format_amount, parse_amount
from services.permissions import Action
from services.timeutil import kuwait_today

STATE_LABELS = {"deposited": "deposited", "partly deposited": "partly deposited", "overdue": "OVERDUE",
                "pending": "pending", "nothing due": "—"}
MATCH_LABELS = {settlements.MATCHED: "matched", settlements.PARTLY: "PARTLY matched",
                settlements.UNMATCHED: "UNMATCHED", settlements.MISSING: "MISSING from statement",
                settlements.NOT_UPAYMENTS: "other credit"}

actor = state.actor()
engine = state.engine()
settings = state.settings()
overdue_after = settings.deposit_overdue_business_days
today = kuwait_today()

st.title("Settlements")
st.caption(f"UPayments deposits captured money on the next Kuwaiti business day (Sunday–Thursday, public holidays "
           f"skipped). Expected = captured minus refunds (refunds come out of the balance); deposited = what the "
           f"gateway confirms per payment. A payment not deposited {overdue_after:d} business days after "
           f"capture is overdue.")

view = st.segmented_control("View", ["Recent days", "Month"], default="Recent days", key="settle_view")
try:
    if view == "Month":
        months = settlements.recent_months(today, 12)
        month = st.selectbox("Month", months, key="settle_month", format_func=lambda m: plain(m.strftime("%B %Y")))
        report = settlements.month_settlement(engine, actor, month or months[0], overdue_after=overdue_after)
    else:
        report = settlements.recent_settlement(engine, actor, overdue_after=overdue_after)
except Exception as exc:
    show_error(exc)
    st.stop()

due = [d for d in report.days if d.day <= today]
cols = st.columns(4)
cols[0].metric("Expected so far (KWD)", md(format_amount(sum(d.expected_fils for d in due), grouping=True)))
cols[1].metric("Deposited (KWD)", md(format_amount(sum(d.deposited_fils for d in due), grouping=True)))
cols[2].metric("Difference (KWD)", md(format_amount(sum(d.difference_fils for d in due), grouping=True)))
cols[3].metric("Overdue days", f"{len(report.overdue_days):,}")
yesterday = today - timedelta(days=1)
due_day = settlements.expected_deposit_day(yesterday)
mine = next((d for d in report.days if d.captured_from <= yesterday <= d.captured_to), None)
if mine is not None:
    st.info(f"**Yesterday's money** (captured {md(mine.captured_from.strftime('%a %d %b'))}"
            f"{'' if mine.captured_from == mine.captured_to else ' – ' + md(mine.captured_to.strftime('%a %d %b'))}"
            f", due {md(due_day.strftime('%a %d %b %Y'))}): expected {money(mine.expected_fils)}, deposited "
            f"{money(mine.deposited_fils)}, difference {money(mine.difference_fils)} — "
            f"{md(STATE_LABELS[mine.state])}.")
for day in report.overdue_days:
    st.warning(f"Overdue: the deposit of {md(day.day.strftime('%a %d %b %Y'))} — {day.overdue_payments:,} "
               f"payment(s), {money(day.overdue_fils)} captured {md(day.captured_from.strftime('%a %d %b'))}"
               f"{'' if day.captured_from == day.captured_to else ' – ' + md(day.captured_to.strftime('%a %d %b'))}"
               " — has not been confirmed by UPayments. Check your bank statement below, then ask UPayments support "
               "about these payments (see “Payments of one deposit day”).")


def _row(d: settlements.DayRow) -> dict[str, Any]:
    fam = d.expected_by_family
    captured = (d.captured_from.strftime("%a %d %b") if d.captured_from == d.captured_to
                else f"{d.captured_from.strftime('%a %d %b')} – {d.captured_to.strftime('%a %d %b')}")
    return {"Deposit day": d.day.strftime("%a %Y-%m-%d"), "Captured on": captured, "Payments": d.payments,
            "Captured": format_amount(d.captured_fils), "Refunds": format_amount(d.refunds_fils),
            "Expected": format_amount(d.expected_fils), "KNET": format_amount(fam["knet"]),
            "Cards": format_amount(fam["card"]), "Wallets": format_amount(fam["wallet"] + fam["other"]),
            "Deposited": format_amount(d.deposited_fils), "Difference": format_amount(d.difference_fils),
            "Status": STATE_LABELS[d.state]}


st.subheader("By deposit day")
st.caption("Amounts in KWD. Each row's money was captured on the days shown (Transactions and Analytics give the "
           "same captured and refund totals for those days).")
st.dataframe(cells([_row(d) for d in report.days]), hide_index=True, key="settle_days")

if actor.can(Action.EXPORT_SETTLEMENTS) and report.days:
    st.download_button(
        "Download CSV for the accountant", key="settle_export", mime="text/csv", on_click="ignore",
        file_name=f"settlements-{report.first.isoformat()}-{report.last.isoformat()}.csv",
        data=lambda: "".join(settlements.export_csv(engine, actor, report.first, report.last,
                                                    overdue_after=overdue_after)),
    )

with st.expander("Payments of one deposit day"):
    choices = [d.day for d in report.days if d.payments]
    picked = st.selectbox("Deposit day", choices, key="settle_day", format_func=lambda d: plain(d.isoformat()))
    if picked is not None:
        try:
            lines = settlements.day_payments(engine, actor, picked, overdue_after=overdue_after)
        except Exception as exc:
            show_error(exc)
        else:
            st.dataframe(cells([{
                "Order": p.order_id, "Captured on": p.captured_day, "Method": method_label(p.method),
                "Amount": format_amount(p.amount_fils), "Refunded": format_amount(p.refunded_fils),
                "Deposited": "yes" if p.deposited else ("OVERDUE" if p.overdue else "not yet"),
                "Deposited at": p.deposited_at or "",
            } for p in lines]), hide_index=True, key="settle_day_rows")

# ------------------------------------------------------------------ bank statement

st.subheader("Match your bank statement")
if not actor.can(Action.MATCH_STATEMENT):
    st.caption("Finance and admins can upload the bank's statement here to match it with the expected deposits.")
    st.stop()
st.caption("Upload the statement of the account UPayments pays into (CSV or XLSX, with Date, Description and "
           "Credit columns). Credits whose description names UPayments are matched to the expected deposit of "
           "their day; nothing from the file is stored.")
with st.form("settle_statement"):
    upload = st.file_uploader("Bank statement", type=["csv", "xlsx"], key="settle_file",
                              max_upload_size=settlements.MAX_BYTES // 1_048_576)
    tolerance_text = st.text_input("Tolerance (KWD)", value=format_amount(settings.statement_tolerance_fils),
                                   key="settle_tolerance", help="A credit within this amount of the expected "
                                   "deposit counts as matched (bank charges, rounding).")
    submitted = st.form_submit_button("Match statement", type="primary")
if submitted:
    if upload is None:
        st.error("Choose the statement file first.")
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
    st.success(f"Statement read: {result.count(settlements.MATCHED):,} matched, "
               f"{result.count(settlements.PARTLY):,} partly matched, {result.count(settlements.UNMATCHED):,} "
               f"unmatched, {result.count(settlements.MISSING):,} expected day(s) missing from the statement.")
    st.dataframe(cells([{
        "Result": MATCH_LABELS[m.status], "Day": m.day.isoformat(), "Row": m.row or "",
        "Statement amount": format_amount(m.amount_fils) if m.row else "",
        "Expected": format_amount(m.expected_fils), "Difference": format_amount(m.difference_fils),
        "Description": m.description, "Note": m.note,
    } for m in result.lines]), hide_index=True, key="settle_match_rows")
