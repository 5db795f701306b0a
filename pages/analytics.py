"""Analytics: how the shop is doing and how customers pay (KNET vs card vs wallet), for a bookmarkable period."""

from __future__ import annotations

from datetime import date
from urllib.parse import quote, urlencode

import streamlit as st

from dashboard import charts, reads, state
from dashboard.errors import show_error
from dashboard.formatting import money
from dashboard.navigation import PAGES
from dashboard.safe import md
from services import analytics
from services.analytics import DEFINITIONS, PRESETS, Change, Period, Report
from services.models import FAMILIES
from services.permissions import Action
from services.timeutil import to_kuwait

EARLIEST = date(2015, 1, 1)  # the date picker's lower bound
FAMILY_CHOICES = {"": "All methods", **{f: charts.family_label(f) for f in FAMILIES}}


def signed_money(fils: int | float | None) -> str | None:
    if fils is None:
        return None
    return ("+" if fils >= 0 else "-") + money(abs(int(fils)))  # ASCII sign: st.metric reads it for the arrow


def money_delta(change: Change) -> str | None:
    if change.diff is None or change.previous is None:
        return None
    pct = f" ({change.ratio:+.1%})" if change.ratio is not None else ""
    return f"{signed_money(change.diff)}{pct}"


def count_delta(change: Change) -> str | None:
    if change.diff is None:
        return None
    pct = f" ({change.ratio:+.1%})" if change.ratio is not None else ""
    return f"{int(change.diff):+,}{pct}"


def rate_delta(change: Change) -> str | None:
    return None if change.diff is None else f"{change.diff * 100:+.1f} pp"


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def read_selection(today: date) -> tuple[str, Period, str]:
    """Preset, period and family from the widgets, seeded from the URL so a view can be bookmarked."""
    params = st.query_params
    preset = params.get("period", analytics.DEFAULT_PRESET)
    preset = preset if preset in PRESETS else analytics.DEFAULT_PRESET
    family = params.get("family", "")
    family = family if family in FAMILY_CHOICES else ""
    left, middle, right = st.columns([2, 2, 2])
    preset = left.selectbox("Period", list(PRESETS), index=list(PRESETS).index(preset),
                            format_func=PRESETS.__getitem__, key="an_period")
    family = right.selectbox("Payment methods", list(FAMILY_CHOICES), index=list(FAMILY_CHOICES).index(family),
                             format_func=FAMILY_CHOICES.__getitem__, key="an_family")
    custom: tuple[date, date] | None = None
    if preset == "custom":
        try:
            wanted_from = date.fromisoformat(params.get("from", ""))
            wanted_to = date.fromisoformat(params.get("to", ""))
        except ValueError:
            wanted_from, wanted_to = analytics.period_for("last_30_days", today).start_day, today
        default = (min(max(wanted_from, EARLIEST), today), min(max(wanted_to, EARLIEST), today))
        picked = middle.date_input("Dates (Kuwait)", value=default, min_value=EARLIEST, max_value=today,
                                   key="an_dates")
        if not isinstance(picked, tuple) or len(picked) != 2:
            middle.caption("Pick the last day of the range.")
            st.stop()
        custom = (picked[0], picked[1])
    period = analytics.period_for(preset, today, custom)
    if preset != "custom":
        middle.text_input("Dates (Kuwait)", value=period.label(), disabled=True)  # no key: follows the preset
    wanted = {"period": preset, **({"from": period.start_day.isoformat(), "to": period.end_day.isoformat()}
                                   if preset == "custom" else {}), **({"family": family} if family else {})}
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)
    return preset, period, family


def transactions_link(period: Period, report: Report) -> str:
    """Relative URL of the transactions page filtered to the same payments (works under any base path)."""
    url_path = next(spec.url_path for spec in PAGES if spec.path == "pages/transactions.py")
    return f"{quote(url_path)}?{urlencode(analytics.transactions_query(period, report.filters))}"


def show_chart(fig: object, stem: str, csv: bytes, key: str) -> None:
    st.plotly_chart(fig, config=charts.chart_config(stem), key=f"fig_{key}")
    st.download_button("Download data (CSV)", data=csv, file_name=f"{stem}.csv", mime="text/csv",
                       on_click="ignore", key=f"csv_{key}", icon=":material/download:")


def family_split(report: Report) -> None:
    families = {row.family: row for row in report.family_totals()}
    columns = st.columns(len(FAMILIES))
    for column, family in zip(columns, FAMILIES, strict=True):
        row = families.get(family)
        column.metric(
            md(charts.family_label(family)), pct(row.volume_share if row else 0.0), border=True,
            help=f"Share of captured volume paid with {md(charts.family_label(family))}.",
        )
        column.caption(f"{money(row.volume_fils if row else 0)} · {row.captured if row else 0:,} payments")


def kpi_cards(report: Report) -> None:
    cmp = report.comparison
    k = report.kpis
    previous = md(cmp.previous.period.label())
    # Three to a row, so seven-figure KWD totals are never cut off: volume, then counts, then refunds.
    volume = st.columns(3)
    volume[0].metric("Gross captured", money(k.gross_fils), money_delta(cmp.change("gross_fils")),
                     help=f"{DEFINITIONS['gross']} Change against {previous}.", border=True)
    volume[1].metric("Net volume", money(k.net_fils), money_delta(cmp.change("net_fils")),
                     help=DEFINITIONS["net"], border=True)
    volume[2].metric("Average ticket", money(k.avg_ticket_fils), money_delta(cmp.change("avg_ticket_fils")),
                     help=DEFINITIONS["avg_ticket"], border=True)
    counts = st.columns(3)
    counts[0].metric("Captured payments", f"{k.captured:,}", count_delta(cmp.change("captured")),
                     help=DEFINITIONS["captured"], border=True)
    counts[1].metric("All payment attempts", f"{k.payments:,}", count_delta(cmp.change("payments")),
                     help=DEFINITIONS["payments"], border=True)
    counts[2].metric("Success rate", pct(k.success_rate), rate_delta(cmp.change("success_rate")),
                     help=DEFINITIONS["success_rate"], border=True)
    refunds = st.columns(3)
    refunds[0].metric("Refunded", money(k.refunded_fils), money_delta(cmp.change("refunded_fils")),
                      delta_color="inverse", help=DEFINITIONS["refunded"], border=True)
    refunds[1].metric("Refund rate", pct(k.refund_rate), rate_delta(cmp.change("refund_rate")),
                      delta_color="inverse", help=DEFINITIONS["refund_rate"], border=True)
    span = "day" if report.period.days == 1 else f"{report.period.days:d} days"
    until = cmp.previous_until
    upto = f" up to {md(to_kuwait(until).strftime('%H:%M'))} Kuwait time, as far as today has run" if until else ""
    st.caption(f"Deltas compare with the previous {span}: {previous}{upto}. All amounts in KWD.")


def charts_section(report: Report, family: str) -> None:
    p = report.period

    def stem(name: str) -> str:
        return charts.file_stem(name, p.start_day, p.end_day, family)

    measure = st.segmented_control("Show", ["Volume", "Count"], default="Volume", key="an_measure") or "Volume"
    show_chart(charts.volume_figure(report.series, measure=measure.lower(), grain=p.grain),
               stem(f"{measure.lower()}-by-family"), charts.volume_csv(report.series), "volume")
    if p.weekly:
        st.caption("Periods over 62 days are shown by week (Sunday to Saturday); the first and last weeks may be "
                   "partly outside the period and count only its days.")
    left, right = st.columns(2)
    with left:
        show_chart(charts.family_share_figure(report.family_totals()), stem("family-share"),
                   charts.mix_csv(report.family_totals()), "families")
    with right:
        if any(r.family == "wallet" for r in report.mix):
            show_chart(charts.wallet_figure(report.mix), stem("wallet-split"), charts.mix_csv(report.mix), "wallets")
        else:
            st.info("No wallet payments (Apple Pay, Google Pay, Samsung Pay) in this period.")
    if report.success:
        show_chart(charts.success_figure(report.success, weekly=p.weekly), stem("success-rate"),
                   charts.success_csv(report.success), "success")
    else:
        st.info("No payment was captured, failed or cancelled in this period, so there is no success rate yet.")
    left, right = st.columns(2)
    with left:
        if any(c.captured for c in report.heat):
            show_chart(charts.heatmap_figure(report.heat), stem("hours"), charts.heat_csv(report.heat), "heat")
        else:
            st.info("No captured payments in this period, so there is no hour-of-day pattern to show.")
    with right:
        if report.refunds:
            show_chart(charts.refunds_figure(report.refunds), stem("refunds-by-method"),
                       charts.refunds_csv(report.refunds), "refunds")
        else:
            st.info("No refunds were made in this period.")


actor = state.actor()
st.title("Analytics")
st.caption("Kuwait calendar days; volume counts captured payments only. "
           "Hover the ? beside a figure for its definition.")

try:
    preset, period, family = read_selection(analytics.kuwait_today())
    report = reads.report(actor, period, family)
except Exception as exc:
    show_error(exc)
    st.stop()

if report.kpis.captured:
    family_split(report)
kpi_cards(report)
if actor.can(Action.VIEW_TRANSACTIONS):
    st.markdown(f":material/receipt_long: [Open these payments in Transactions]({transactions_link(period, report)})"
                " — same days, same methods, same totals.")
if report.empty:
    st.info(f"No payments or refunds between {md(period.label())}. Pick a longer period or another payment method.")
    st.stop()
charts_section(report, family)
