"""Analytics: how the shop is doing and how customers pay (KNET vs card vs wallet), for a bookmarkable period."""

from __future__ import annotations

from datetime import date
from urllib.parse import quote, urlencode

import streamlit as st

from dashboard import charts, reads, state
from dashboard.errors import show_error
from dashboard.formatting import decimal_text, localise_digits, money, number, percent
from dashboard.i18n import N_, _, ngettext
from dashboard.navigation import PAGES
from dashboard.safe import isolate, md, md_iso, plain
from services import analytics
from services.analytics import DEFINITIONS, PRESETS, Change, Period, Report
from services.models import FAMILIES
from services.permissions import Action
from services.timeutil import to_kuwait

EARLIEST = date(2015, 1, 1)  # the date picker's lower bound
FAMILY_CHOICES = ("", *FAMILIES)
MEASURES = {"volume": N_("Volume"), "count": N_("Count")}


def family_choice(family: str) -> str:
    return charts.family_label(family) if family else _("All methods")


def preset_label(preset: str) -> str:
    known = PRESETS.get(preset)
    return _(known) if known else preset


def definition(name: str) -> str:
    return _(DEFINITIONS[name])


def _sign(value: float) -> str:
    return "+" if value >= 0 else "-"  # ASCII sign first: st.metric reads it for the arrow


def signed_money(fils: int | float | None) -> str | None:
    if fils is None:
        return None
    return _sign(fils) + money(abs(int(fils)))


def _ratio(change: Change) -> str:
    """`` (+7.9%)``; isolated in Arabic, where it would otherwise be read as part of the currency sign before it
    (``-837.040 د.ك. (-8.0%)`` showed as ``(%8.0-)``)."""
    return "" if change.ratio is None else " " + isolate(f"({_sign(change.ratio)}{percent(abs(change.ratio))})")


def money_delta(change: Change) -> str | None:
    if change.diff is None or change.previous is None:
        return None
    return f"{signed_money(change.diff)}{_ratio(change)}"


def count_delta(change: Change) -> str | None:
    if change.diff is None:
        return None
    return f"{_sign(change.diff)}{number(abs(int(change.diff)))}{_ratio(change)}"


def rate_delta(change: Change) -> str | None:
    if change.diff is None:
        return None
    return _("{delta} pp").format(delta=_sign(change.diff) + decimal_text(abs(change.diff * 100), 1))


def pct(value: float | None) -> str:
    return percent(value)


def period_text(period: Period) -> str:
    """``2026-11-01 – 2026-11-24`` in the person's digits."""
    return localise_digits(period.label())


def read_selection(today: date) -> tuple[str, Period, str]:
    """Preset, period and family from the widgets, seeded from the URL so a view can be bookmarked."""
    params = st.query_params
    preset = params.get("period", analytics.DEFAULT_PRESET)
    preset = preset if preset in PRESETS else analytics.DEFAULT_PRESET
    family = params.get("family", "")
    family = family if family in FAMILY_CHOICES else ""
    left, middle, right = st.columns([2, 2, 2])
    preset = left.selectbox(_("Period"), list(PRESETS), index=list(PRESETS).index(preset),
                            format_func=lambda p: plain(preset_label(p)), key="an_period")
    family = right.selectbox(_("Payment methods"), list(FAMILY_CHOICES), index=FAMILY_CHOICES.index(family),
                             format_func=lambda f: plain(family_choice(f)), key="an_family")
    custom: tuple[date, date] | None = None
    if preset == "custom":
        try:
            wanted_from = date.fromisoformat(params.get("from", ""))
            wanted_to = date.fromisoformat(params.get("to", ""))
        except ValueError:
            wanted_from, wanted_to = analytics.period_for("last_30_days", today).start_day, today
        default = (min(max(wanted_from, EARLIEST), today), min(max(wanted_to, EARLIEST), today))
        picked = middle.date_input(_("Dates (Kuwait)"), value=default, min_value=EARLIEST, max_value=today,
                                   key="an_dates")
        if not isinstance(picked, tuple) or len(picked) != 2:
            middle.caption(_("Pick the last day of the range."))
            st.stop()
        custom = (picked[0], picked[1])
    period = analytics.period_for(preset, today, custom)
    if preset != "custom":
        # no key: follows the preset
        middle.text_input(_("Dates (Kuwait)"), value=plain(period_text(period)), disabled=True)
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
    st.download_button(_("Download data (CSV)"), data=csv, file_name=f"{stem}.csv", mime="text/csv",
                       on_click="ignore", key=f"csv_{key}", icon=":material/download:")


def family_split(report: Report) -> None:
    families = {row.family: row for row in report.family_totals()}
    columns = st.columns(len(FAMILIES))
    for column, family in zip(columns, FAMILIES, strict=True):
        row = families.get(family)
        column.metric(
            md(charts.family_label(family)), pct(row.volume_share if row else 0.0), border=True,
            help=_("Share of captured volume paid with {family}.").format(family=md(charts.family_label(family))),
        )
        captured = row.captured if row else 0
        column.caption(" · ".join((md_iso(money(row.volume_fils if row else 0)), ngettext(
            "{n} payment", "{n} payments", captured).format(n=number(captured)))))


def kpi_cards(report: Report) -> None:
    cmp = report.comparison
    k = report.kpis
    previous = md_iso(period_text(cmp.previous.period))
    # Three to a row, so seven-figure KWD totals are never cut off: volume, then counts, then refunds.
    volume = st.columns(3)
    volume[0].metric(_("Gross captured"), money(k.gross_fils), money_delta(cmp.change("gross_fils")),
                     help=_("{definition} Change against {previous}.").format(definition=md(definition("gross")),
                                                                               previous=previous), border=True)
    volume[1].metric(_("Net volume"), money(k.net_fils), money_delta(cmp.change("net_fils")),
                     help=definition("net"), border=True)
    volume[2].metric(_("Average ticket"), money(k.avg_ticket_fils), money_delta(cmp.change("avg_ticket_fils")),
                     help=definition("avg_ticket"), border=True)
    counts = st.columns(3)
    counts[0].metric(_("Captured payments"), number(k.captured), count_delta(cmp.change("captured")),
                     help=definition("captured"), border=True)
    counts[1].metric(_("All payment attempts"), number(k.payments), count_delta(cmp.change("payments")),
                     help=definition("payments"), border=True)
    counts[2].metric(_("Success rate"), pct(k.success_rate), rate_delta(cmp.change("success_rate")),
                     help=definition("success_rate"), border=True)
    refunds = st.columns(3)
    refunds[0].metric(_("Refunded"), money(k.refunded_fils), money_delta(cmp.change("refunded_fils")),
                      delta_color="inverse", help=definition("refunded"), border=True)
    refunds[1].metric(_("Refund rate"), pct(k.refund_rate), rate_delta(cmp.change("refund_rate")),
                      delta_color="inverse", help=definition("refund_rate"), border=True)
    days = report.period.days
    span = ngettext("day", "{n} days", days).format(n=number(days))
    until = cmp.previous_until
    if until:
        st.caption(_("Deltas compare with the previous {span}: {previous} up to {time} Kuwait time, as far as today "
                     "has run. All amounts in KWD.").format(
            span=span, previous=previous, time=md_iso(localise_digits(to_kuwait(until).strftime("%H:%M")))))
    else:
        st.caption(_("Deltas compare with the previous {span}: {previous}. All amounts in KWD.").format(
            span=span, previous=previous))


def charts_section(report: Report, family: str) -> None:
    p = report.period

    def stem(name: str) -> str:
        return charts.file_stem(name, p.start_day, p.end_day, family)

    measure = st.segmented_control(_("Show"), list(MEASURES), default="volume", key="an_measure",
                                   format_func=lambda m: md(_(MEASURES[m]))) or "volume"
    show_chart(charts.volume_figure(report.series, measure=measure, grain=p.grain),
               stem(f"{measure}-by-family"), charts.volume_csv(report.series), "volume")
    if p.weekly:
        st.caption(_("Periods over 62 days are shown by week (Sunday to Saturday); the first and last weeks may be "
                     "partly outside the period and count only its days."))
    left, right = st.columns(2)
    with left:
        show_chart(charts.family_share_figure(report.family_totals()), stem("family-share"),
                   charts.mix_csv(report.family_totals()), "families")
    with right:
        if any(r.family == "wallet" for r in report.mix):
            show_chart(charts.wallet_figure(report.mix), stem("wallet-split"), charts.mix_csv(report.mix), "wallets")
        else:
            st.info(_("No wallet payments (Apple Pay, Google Pay, Samsung Pay) in this period."))
    if report.success:
        show_chart(charts.success_figure(report.success, weekly=p.weekly), stem("success-rate"),
                   charts.success_csv(report.success), "success")
    else:
        st.info(_("No payment was captured, failed or cancelled in this period, so there is no success rate yet."))
    left, right = st.columns(2)
    with left:
        if any(c.captured for c in report.heat):
            show_chart(charts.heatmap_figure(report.heat), stem("hours"), charts.heat_csv(report.heat), "heat")
        else:
            st.info(_("No captured payments in this period, so there is no hour-of-day pattern to show."))
    with right:
        if report.refunds:
            show_chart(charts.refunds_figure(report.refunds), stem("refunds-by-method"),
                       charts.refunds_csv(report.refunds), "refunds")
        else:
            st.info(_("No refunds were made in this period."))


actor = state.actor()
st.title(_("Analytics"))
st.caption(_("Kuwait calendar days; volume counts captured payments only. Hover the ? beside a figure for its "
             "definition."))

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
    st.markdown(":material/receipt_long: " + _("[Open these payments in Transactions]({link}) — same days, same "
                                               "methods, same totals.").format(link=transactions_link(period, report)))
if report.empty:
    st.info(_("No payments or refunds between {period}. Pick a longer period or another payment method.").format(
        period=md_iso(period_text(period))))
    st.stop()
charts_section(report, family)
