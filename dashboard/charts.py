"""Plotly figures and CSV tables for the analytics page (pure builders: no Streamlit, no database).

One colour per family everywhere (KNET blue, card amber, wallet green; methods are shades of their family's
colour), mid-tone so they read on both the light and the dark theme; backgrounds stay transparent so the app's
theme shows through.

Plotly renders a subset of HTML in every label (``<a href>``, ``<b>``, ``<br>``…), and method and family names
come from the gateway: every name that reaches a figure goes through ``safe.html_text``, and hover templates
refer to ``%{fullData.name}`` / ``%{x}`` / ``%{customdata…}`` instead of embedding a name (a name with ``%{…}``
would be substituted too).

Language: titles, axis titles, legends and hover texts come from the catalog, and every number or date a person
reads in a figure is formatted here by ``dashboard.formatting`` (Babel), never by plotly's d3 formats, which
know only English month names and Western digits. So hover texts carry pre-formatted values in ``customdata``,
and in Arabic the axes get explicit tick texts (time buckets become ordered categories labelled with Arabic
month and weekday names; value axes get locale digits). The font is the app's own (``static/souq.css``'s
"Souq Arabic" for Arabic letters).

Right to left: titles and legends move to the right edge and the legend lists the first series rightmost, value
axes sit on the right, and category charts (methods) read from the right. Time runs left to right in both
languages: Arabic finance charts (Gulf exchanges, banks' statements, the gateways' own dashboards) keep the
calendar axis left to right, like the digits of the amounts, and staff compare these charts with bank and
UPayments charts drawn that way.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache, wraps
from typing import Any, TypeVar

import plotly.graph_objects as go
from babel.dates import format_date, format_datetime, get_day_names

from dashboard import i18n
from dashboard.formatting import decimal_text, localise_digits, method_label, money, number, percent
from dashboard.i18n import N_, _, ngettext
from dashboard.safe import html_text, isolate
from services.analytics import OTHER, WEEKDAYS, HeatCell, MixRow, RefundByMethod, SeriesPoint, SuccessPoint
from services.money import format_amount, to_decimal

FAMILY_COLORS: dict[str, str] = {"knet": "#2E86DE", "card": "#E69F00", "wallet": "#17A589", OTHER: "#8C8C8C"}
FAMILY_LABELS: dict[str, str] = {"knet": "KNET", "card": N_("Card"), "wallet": N_("Wallet"),
                                 OTHER: N_("Other / unknown")}
METHOD_COLORS: dict[str, str] = {
    "knet": "#2E86DE",
    "card": "#E69F00",
    "amex": "#B9770E",
    "apple_pay": "#17A589",
    "apple_pay_knet": "#76D7C4",
    "google_pay": "#117A65",
    "samsung_pay": "#48C9B0",
    OTHER: "#8C8C8C",
}
HEAT_COLORSCALE = "viridis"  # perceptually even, readable on light and dark backgrounds
_LAYOUT: dict[str, Any] = {
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
    "margin": {"l": 10, "r": 10, "t": 80, "b": 10},
    "hovermode": "x unified",
    # Arabic letters from the app's own font (static/souq.css's "Souq Arabic"), Latin from the theme's
    "font": {"family": '"Source Sans", "Source Sans Pro", "Souq Arabic", sans-serif'},
}
VOLUME_TITLES = {
    ("volume", "hour"): N_("Captured volume (KWD) by hour"), ("volume", "day"): N_("Captured volume (KWD) by day"),
    ("volume", "week"): N_("Captured volume (KWD) by week (from Sunday)"),
    ("count", "hour"): N_("Captured payments by hour"), ("count", "day"): N_("Captured payments by day"),
    ("count", "week"): N_("Captured payments by week (from Sunday)"),
}
_AR = "ar_KW"
_MARKS = str.maketrans("", "", "\u200e\u200f\u061c")  # Babel's bidi marks (formatting drops them too)
_STEP = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(days=7)}


def family_label(family: str) -> str:
    known = FAMILY_LABELS.get(family)
    return _(known) if known else family


def label(method: str) -> str:
    return _("Other / unknown") if method == OTHER else method_label(method)


def _family_text(family: str) -> str:
    """A family's label as plotly text (escaped: plotly reads HTML in labels)."""
    return isolate(html_text(family_label(family)))


def _method_text(method: str) -> str:
    """A method's label as plotly text (escaped: plotly reads HTML in labels)."""
    return isolate(html_text(label(method)))


def _line(text: str) -> str:
    """One line of plotly text in Arabic: plotly draws every text left to right (its stylesheet says so), which
    throws a line's trailing full stop or bracket to the wrong end (``د.ك.``); in an isolate each line takes
    the direction of its first letter."""
    return isolate(text)


def _payments(n: int) -> str:
    return ngettext("{n} payment", "{n} payments", n).format(n=number(n))


def kwd(fils: int) -> Decimal:
    """Fils as a KWD ``Decimal`` for an axis (plotly serialises it for display only; sums stay in fils)."""
    return to_decimal(fils, "KWD")


def chart_config(filename: str) -> dict[str, Any]:
    """``st.plotly_chart(config=...)``: the modebar's camera button saves a 2× PNG under a meaningful name."""
    return {
        "displaylogo": False,
        "toImageButtonOptions": {"format": "png", "filename": filename, "scale": 2},
        "modeBarButtonsToRemove": ["lasso2d", "select2d"],
    }


def file_stem(name: str, start: date, end: date, suffix: str = "") -> str:
    """``souq-volume-2026-08-27_2026-11-24-wallet``: the chart, the period, and the filter if any."""
    stem = f"souq-{name}-{start.isoformat()}_{end.isoformat()}"
    return f"{stem}-{suffix}" if suffix else stem


_F = TypeVar("_F", bound=Callable[..., go.Figure])


def _shared(builder: _F) -> _F:
    """Build a figure once per distinct data (lists compared by value) and language, and hand the same object
    out again.

    Building a plotly figure costs 10–20 ms of property validation, several times what the page's cached
    query costs; every rerun of the analytics page (any click) rebuilt six. The figures returned are shared:
    callers pass them to ``st.plotly_chart`` (which copies them) and must not change them. The person's
    language and digits are part of the key: a figure's words and numbers are in them.
    """
    cached = lru_cache(maxsize=128)(lambda _lang, *args, **kwargs: builder(*args, **kwargs))

    @wraps(builder)
    def build(*args: Any, **kwargs: Any) -> go.Figure:
        frozen = tuple(tuple(a) if isinstance(a, list) else a for a in args)
        return cached((i18n.current(), i18n.digits()), *frozen, **kwargs)

    return build  # type: ignore[return-value]


def _rtl() -> bool:
    return i18n.is_rtl()


def _figure(title: str, *, right: int = 60, left: int = 10) -> go.Figure:
    """An empty figure with its title and legend on the reading side (the right in Arabic); ``right``/``left``:
    the margins in Arabic, where the value axis or the names sit on the right."""
    rtl = _rtl()
    side = {"x": 1, "xanchor": "right"} if rtl else {"x": 0, "xanchor": "left"}
    fig = go.Figure()
    layout = dict(_LAYOUT)
    if rtl:
        layout["margin"] = {**_LAYOUT["margin"], "r": right, "l": left}
    fig.update_layout(
        title={"text": _line(title), **side, "y": 0.98, "yref": "container", "yanchor": "top", "font": {"size": 15}},
        # right to left, the first series stands rightmost: plotly lays a horizontal legend out left to right
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, **side,
                "traceorder": "reversed" if rtl else "normal"},
        hoverlabel={"align": "right" if rtl else "left"}, **layout)
    return fig


# --- axes ------------------------------------------------------------------------------------------------------

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
#: Fewer buckets than this and a success-rate line is a few dots: show one bar per method instead.
MIN_LINE_BUCKETS = 3


def time_axis(grain: str, buckets: int) -> dict[str, Any]:
    """A readable Kuwait-time x axis (English): ``14:00`` ticks by hour, ``27 Nov`` by day, plotly's own by week."""
    if grain == "hour":
        two_days = buckets > 24
        return {"type": "date", "tickformat": "%a %H:%M" if two_days else "%H:%M",
                "dtick": (4 if two_days else 2) * HOUR_MS, "hoverformat": "%a %d %b, %H:00–%H:59 (Kuwait)",
                "title": {"text": _("Kuwait time")}}
    if grain == "day":
        return {"type": "date", "tickformat": "%d %b", "hoverformat": "%a %d %b %Y",
                **({"dtick": DAY_MS} if buckets <= 14 else {})}
    return {"type": "date", "hoverformat": "week from %a %d %b %Y"}


def bucket_text(bucket: date, grain: str, *, short: bool = False, with_day: bool = False) -> str:
    """A time bucket in Arabic words and the person's digits: a tick (``short``) or a hover heading."""
    if grain == "hour":
        moment = bucket if isinstance(bucket, datetime) else datetime.combine(bucket, datetime.min.time())
        if short:
            text = format_datetime(moment, "EEEE HH:mm" if with_day else "HH:mm", locale=_AR)
        else:
            hour = f"{moment.hour:02d}"
            text = _("{day}, {start}–{end} (Kuwait)").format(
                day=format_date(moment.date(), "EEEE d MMMM", locale=_AR), start=f"{hour}:00", end=f"{hour}:59")
    elif short:
        text = format_date(bucket, "d MMM", locale=_AR)
    elif grain == "week":
        text = _("week from {day}").format(day=format_date(bucket, "EEEE d MMMM y", locale=_AR))
    else:
        text = format_date(bucket, "EEEE d MMMM y", locale=_AR)
    return localise_digits(text.translate(_MARKS))


def _every_bucket(buckets: Iterable[date], grain: str) -> list[date]:
    """Every bucket from the first to the last (a category axis keeps time evenly spaced only with no gaps)."""
    found = sorted(set(buckets))
    if not found:
        return []
    out, step = [found[0]], _STEP[grain]
    while out[-1] < found[-1]:
        out.append(out[-1] + step)
    return out


def _time_x(grain: str, all_buckets: Sequence[date]) -> tuple[Callable[[Sequence[date]], list[Any]], dict[str, Any]]:
    """How buckets become x values, and the x axis: dates (English); ordered Arabic categories (Arabic)."""
    if not _rtl():
        return list, time_axis(grain, len(dict.fromkeys(all_buckets)))
    every = _every_bucket(all_buckets, grain)
    names = {b: _line(bucket_text(b, grain)) for b in every}
    if grain == "hour":
        stride = 2 if len(every) <= 24 else 4
    elif grain == "day" and len(every) <= 14:
        stride = 1
    else:
        stride = max(1, math.ceil(len(every) / 10))
    shown = every[::stride]
    axis: dict[str, Any] = {
        "type": "category", "categoryorder": "array", "categoryarray": [names[b] for b in every],
        "tickmode": "array", "tickvals": [names[b] for b in shown],
        "ticktext": [_line(bucket_text(b, grain, short=True, with_day=len(every) > 24)) for b in shown],
    }
    if grain == "hour":
        axis["title"] = {"text": _line(_("Kuwait time"))}
    return (lambda buckets: [names[b] for b in buckets]), axis


def _nice_ticks(top: float, *, whole: bool = False, count: int = 5) -> list[float]:
    """0 and round steps up to at least ``top`` (``whole``: integer steps, for counts)."""
    if top <= 0:
        return [0, 1] if whole else [0.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if raw <= m * magnitude)
    if whole:
        step = max(1, math.ceil(step))
    return [i * step for i in range(math.ceil(top / step - 1e-9) + 1)]


def _value_axis(top: float, kind: str, **extra: Any) -> dict[str, Any]:
    """A value axis: plotly's d3 format in English; in Arabic, explicit ticks in the person's digits, on the right.

    ``kind``: ``kwd`` (amounts), ``count`` or ``share`` (0..1, shown as %)."""
    english = {"kwd": ",.3f", "count": ",d", "share": ".0%"}[kind]
    if not _rtl():
        return {"tickformat": english, **extra}
    ticks = _nice_ticks(top, whole=kind == "count")
    if kind == "share":
        texts = [percent(t, 0) for t in ticks]
    elif kind == "count":
        texts = [number(int(t)) for t in ticks]
    else:
        places = 0 if all(float(t).is_integer() for t in ticks) else 3
        texts = [decimal_text(t, places) for t in ticks]
    axis = {"tickmode": "array", "tickvals": ticks, "ticktext": texts, "automargin": True, **extra}
    axis.setdefault("range", [0, ticks[-1] * 1.02] if ticks[-1] else [0, 1])
    return axis


def _mirrored_categories() -> dict[str, Any]:
    """A category axis of methods: read from the right in Arabic."""
    return {"type": "category", **({"autorange": "reversed"} if _rtl() else {})}


def _value_side() -> dict[str, Any]:
    return {"side": "right"} if _rtl() else {}


# --- figures ---------------------------------------------------------------------------------------------------


@_shared
def volume_figure(series: Sequence[SeriesPoint], *, measure: str = "volume", weekly: bool = False,
                  grain: str | None = None) -> go.Figure:
    """Stacked bars per bucket by family: captured volume in KWD (``measure="volume"``) or count; ``grain`` is
    ``hour`` (Kuwait clock hours), ``day`` or ``week``."""
    grain = grain or ("week" if weekly else "day")
    measure = "volume" if measure == "volume" else "count"
    fig = _figure(_(VOLUME_TITLES[(measure, grain)]))
    to_x, x_axis = _time_x(grain, [p.bucket for p in series])
    tops: dict[date, int] = {}
    for family in dict.fromkeys(p.family for p in series):
        points = [p for p in series if p.family == family]
        if measure == "volume":
            y: list[Any] = [kwd(p.volume_fils) for p in points]
            shown = [money(p.volume_fils) for p in points]
        else:
            y = [p.captured for p in points]
            shown = [_payments(p.captured) for p in points]
        for p in points:
            tops[p.bucket] = tops.get(p.bucket, 0) + (p.volume_fils if measure == "volume" else p.captured)
        fig.add_trace(go.Bar(
            x=to_x([p.bucket for p in points]), y=y, name=_family_text(family), marker_color=FAMILY_COLORS.get(family),
            customdata=[[text] for text in shown],
            hovertemplate=_line(_("{series}: {value}").format(series="%{fullData.name}", value="%{customdata[0]}"))
            + "<extra></extra>",
        ))
    top = max(tops.values(), default=0)
    fig.update_layout(barmode="stack", xaxis=x_axis, yaxis=_value_axis(
        float(kwd(top)) if measure == "volume" else top, "kwd" if measure == "volume" else "count",
        **_value_side()))
    return fig


@_shared
def family_share_figure(families: Sequence[MixRow], *, measure: str = "volume") -> go.Figure:
    """Donut of KNET / card / wallet share of captured volume (or count)."""
    volume = measure == "volume"
    fig = _figure(_("Share by family (volume)") if volume else _("Share by family (count)"))
    values = [kwd(r.volume_fils) if volume else r.captured for r in families]
    total = sum(r.volume_fils if volume else r.captured for r in families)
    shares = [(r.volume_fils if volume else r.captured) / total if total else 0.0 for r in families]
    fig.add_trace(go.Pie(
        labels=[_family_text(r.family) for r in families], values=values, hole=0.55, sort=False,
        marker={"colors": [FAMILY_COLORS.get(r.family) for r in families]},
        customdata=[[money(r.volume_fils) if volume else _payments(r.captured), percent(share)]
                    for r, share in zip(families, shares, strict=True)],
        texttemplate="%{label}<br>%{customdata[1]}",
        hovertemplate=_line(_("{family}: {value} ({share})").format(
            family="%{label}", value="%{customdata[0]}", share="%{customdata[1]}")) + "<extra></extra>",
    ))
    fig.update_layout(showlegend=False, hovermode=False)
    return fig


@_shared
def wallet_figure(mix: Sequence[MixRow]) -> go.Figure:
    """Horizontal bars: each wallet's share of wallet volume (Apple Pay, Apple Pay over KNET, Google, Samsung)."""
    wallets = [r for r in mix if r.family == "wallet"]
    total = sum(r.volume_fils for r in wallets)
    shares = [r.volume_fils / total if total else 0 for r in wallets]
    fig = _figure(_("Inside wallets (share of wallet volume)"), right=130)
    fig.add_trace(go.Bar(
        y=[_method_text(r.method) for r in wallets], x=shares,
        orientation="h", marker_color=[METHOD_COLORS.get(r.method, FAMILY_COLORS[OTHER]) for r in wallets],
        customdata=[[percent(share), money(r.volume_fils), _payments(r.captured)]
                    for r, share in zip(wallets, shares, strict=True)],
        hovertemplate=_line(_("{method}: {share} — {amount}, {payments}").format(
            method="%{y}", share="%{customdata[0]}", amount="%{customdata[1]}", payments="%{customdata[2]}"))
        + "<extra></extra>",
    ))
    rtl = _rtl()
    x_axis = _value_axis(max(shares, default=0), "share", rangemode="tozero")
    if rtl:  # bars grow from the method names on the right towards the left
        x_axis["range"] = list(reversed(x_axis["range"]))
    fig.update_layout(xaxis=x_axis, yaxis={"autorange": "reversed", **_value_side()},
                      hovermode="closest", showlegend=False)
    return fig


@_shared
def success_figure(points: Sequence[SuccessPoint], *, weekly: bool = False) -> go.Figure:
    """One line per method: captured ÷ (captured + failed + cancelled) per bucket; with fewer than
    :data:`MIN_LINE_BUCKETS` buckets (today, two days) one bar per method over the whole period instead."""
    buckets = len(dict.fromkeys(p.bucket for p in points))
    if buckets < MIN_LINE_BUCKETS:
        return _success_bars(points)
    grain = "week" if weekly else "day"
    fig = _figure(_("Success rate by method, per week") if weekly else _("Success rate by method, per day"))
    to_x, x_axis = _time_x(grain, [p.bucket for p in points])
    for method in dict.fromkeys(p.method for p in points):
        mine = [p for p in points if p.method == method and p.decided]
        fig.add_trace(go.Scatter(
            x=to_x([p.bucket for p in mine]), y=[p.rate for p in mine], mode="lines+markers", name=_method_text(method),
            line={"color": METHOD_COLORS.get(method, FAMILY_COLORS[OTHER]), "width": 2}, marker={"size": 4},
            customdata=[[percent(p.rate), number(p.captured), number(p.decided)] for p in mine],
            hovertemplate=_rate_template("%{fullData.name}"),
        ))
    fig.update_layout(yaxis=_value_axis(1.0, "share", range=[0, 1.02], **_value_side()), xaxis=x_axis)
    return fig


def _rate_template(name: str) -> str:
    return _line(_("{method}: {rate} ({captured} of {decided})").format(
        method=name, rate="%{customdata[0]}", captured="%{customdata[1]}", decided="%{customdata[2]}")) \
        + "<extra></extra>"


def _success_bars(points: Sequence[SuccessPoint]) -> go.Figure:
    """One bar per method: its success rate over all the period's buckets (exact integer sums)."""
    totals: dict[str, list[int]] = {}
    for p in points:
        total = totals.setdefault(p.method, [0, 0])
        total[0] += p.captured
        total[1] += p.decided
    methods = [m for m, (_captured, decided) in totals.items() if decided]
    rates = [totals[m][0] / totals[m][1] for m in methods]
    fig = _figure(_("Success rate by method, this period"))
    fig.add_trace(go.Bar(
        x=[_method_text(m) for m in methods], y=rates,
        marker_color=[METHOD_COLORS.get(m, FAMILY_COLORS[OTHER]) for m in methods],
        customdata=[[percent(rate), number(totals[m][0]), number(totals[m][1]), percent(rate, 0)]
                    for m, rate in zip(methods, rates, strict=True)],
        texttemplate="%{customdata[3]}", textposition="outside", hovertemplate=_rate_template("%{x}"),
    ))
    fig.update_layout(yaxis=_value_axis(1.0, "share", range=[0, 1.1], **_value_side()),
                      xaxis=_mirrored_categories(), hovermode="closest", showlegend=False)
    return fig


def weekday_names() -> tuple[str, ...]:
    """Sunday first: ``Sun`` … ``Sat`` (English, as the CSV says them) or Babel's Arabic names."""
    if not _rtl():
        return WEEKDAYS
    names = get_day_names("wide", locale=_AR)  # 0 = Monday
    return tuple(names[(i + 6) % 7] for i in range(7))


@_shared
def heatmap_figure(cells: Sequence[HeatCell]) -> go.Figure:
    """Captured payments by Kuwait hour of day (x, left to right in both languages) and weekday (y, Sunday on
    top)."""
    grid = [[0] * 24 for _row in range(7)]
    for cell in cells:
        grid[cell.weekday][cell.hour] = cell.captured
    days = weekday_names()
    hours = [localise_digits(f"{h:02d}") for h in range(24)]
    zero, fifty_nine = localise_digits("00"), localise_digits("59")
    hover = [[[_line(_("{day} {start}–{end}: {payments}").format(
        day=days[d], start=f"{hours[h]}:{zero}", end=f"{hours[h]}:{fifty_nine}", payments=_payments(grid[d][h])))]
              for h in range(24)] for d in range(7)]
    rtl = _rtl()
    top = max(map(max, grid))
    colorbar: dict[str, Any] = {"title": {"text": _line(_("Paid"))}}
    if rtl:  # the weekday names take the right edge: the colour scale goes left
        ticks = _nice_ticks(top, whole=True)
        colorbar |= {"x": -0.02, "xanchor": "right", "tickmode": "array", "tickvals": ticks,
                     "ticktext": [number(int(t)) for t in ticks]}
    fig = _figure(_("When customers pay (captured payments, Kuwait time)"), right=80, left=70)
    fig.add_trace(go.Heatmap(
        z=grid, x=list(range(24)), y=[_line(d) for d in days], colorscale=HEAT_COLORSCALE, xgap=1, ygap=1,
        customdata=hover, hovertemplate="%{customdata[0]}<extra></extra>", colorbar=colorbar,
    ))
    x_axis: dict[str, Any] = {"dtick": 1, "title": {"text": _line(_("Hour of day"))}}
    if rtl:
        x_axis |= {"tickmode": "array", "tickvals": list(range(24)), "ticktext": [localise_digits(str(h))
                                                                                    for h in range(24)]}
    fig.update_layout(yaxis={"autorange": "reversed", "type": "category", **_value_side()}, xaxis=x_axis,
                      hovermode="closest")
    return fig


@_shared
def refunds_figure(rows: Sequence[RefundByMethod]) -> go.Figure:
    """Refunded amount per method (coloured by family), count in the hover."""
    fig = _figure(_("Refunded by method (KWD)"))
    fig.add_trace(go.Bar(
        x=[_method_text(r.method) for r in rows], y=[kwd(r.refunded_fils) for r in rows],
        marker_color=[METHOD_COLORS.get(r.method, FAMILY_COLORS[OTHER]) for r in rows],
        customdata=[[money(r.refunded_fils), ngettext("{n} refund", "{n} refunds", r.refunds).format(
            n=number(r.refunds))] for r in rows],
        hovertemplate=_line(_("{method}: {amount} in {refunds}").format(
            method="%{x}", amount="%{customdata[0]}", refunds="%{customdata[1]}")) + "<extra></extra>",
    ))
    top = max((r.refunded_fils for r in rows), default=0)
    fig.update_layout(yaxis=_value_axis(float(kwd(top)), "kwd", **_value_side()), xaxis=_mirrored_categories(),
                      hovermode="closest", showlegend=False)
    return fig


# --- the same data as CSV ------------------------------------------------------------------------------------


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """UTF-8 CSV (with BOM for Excel); text cells starting with = + - @ are neutralised against formula injection."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([f"'{v}" if isinstance(v, str) and v[:1] in ("=", "+", "-", "@") else v for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def volume_csv(series: Sequence[SeriesPoint]) -> bytes:
    return csv_bytes(
        ("bucket_start", "family", "captured_payments", "volume_kwd"),
        ((p.bucket.isoformat(), p.family, p.captured, format_amount(p.volume_fils)) for p in series),
    )


def mix_csv(mix: Sequence[MixRow]) -> bytes:
    return csv_bytes(
        ("family", "method", "captured_payments", "volume_kwd", "volume_share", "count_share"),
        ((r.family, r.method, r.captured, format_amount(r.volume_fils), f"{r.volume_share:.4f}",
          f"{r.count_share:.4f}") for r in mix),
    )


def success_csv(points: Sequence[SuccessPoint]) -> bytes:
    return csv_bytes(
        ("bucket_start", "method", "captured", "captured_failed_cancelled", "success_rate"),
        ((p.bucket.isoformat(), p.method, p.captured, p.decided, "" if p.rate is None else f"{p.rate:.4f}")
         for p in points),
    )


def heat_csv(cells: Sequence[HeatCell]) -> bytes:
    return csv_bytes(
        ("weekday", "hour_kuwait", "captured_payments"),
        ((WEEKDAYS[c.weekday], c.hour, c.captured) for c in cells),
    )


def refunds_csv(rows: Sequence[RefundByMethod]) -> bytes:
    return csv_bytes(
        ("family", "method", "refunds", "refunded_kwd"),
        ((r.family, r.method, r.refunds, format_amount(r.refunded_fils)) for r in rows),
    )
