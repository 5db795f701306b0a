"""Plotly figures and CSV tables for the analytics page (pure builders: no Streamlit, no database).

One colour per family everywhere (KNET blue, card amber, wallet green; methods are shades of their family's
colour), mid-tone so they read on both the light and the dark theme; backgrounds stay transparent so the app's
theme shows through.

Plotly renders a subset of HTML in every label (``<a href>``, ``<b>``, ``<br>``…), and method and family names
come from the gateway: every name that reaches a figure goes through ``safe.html_text``, and hover templates
refer to ``%{fullData.name}`` instead of embedding a name (a name with ``%{…}`` would be substituted too).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from decimal import Decimal
from functools import lru_cache, wraps
from typing import Any, TypeVar

import plotly.graph_objects as go

from dashboard.formatting import method_label
from dashboard.safe import html_text
from services.analytics import OTHER, WEEKDAYS, HeatCell, MixRow, RefundByMethod, SeriesPoint, SuccessPoint
from services.money import format_amount, to_decimal

FAMILY_COLORS: dict[str, str] = {"knet": "#2E86DE", "card": "#E69F00", "wallet": "#17A589", OTHER: "#8C8C8C"}
FAMILY_LABELS: dict[str, str] = {"knet": "KNET", "card": "Card", "wallet": "Wallet", OTHER: "Other / unknown"}
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
HEAT_COLORSCALE = "Viridis"  # perceptually even, readable on light and dark backgrounds
_LAYOUT: dict[str, Any] = {
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
    "margin": {"l": 10, "r": 10, "t": 80, "b": 10},
    "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0, "traceorder": "normal"},
    "hovermode": "x unified",
    # Arabic letters from the app's own font (static/souq.css's "Souq Arabic"), Latin from the theme's
    "font": {"family": '"Source Sans", "Source Sans Pro", "Souq Arabic", sans-serif'},
}


def family_label(family: str) -> str:
    return FAMILY_LABELS.get(family, family)


def label(method: str) -> str:
    return "Other / unknown" if method == OTHER else method_label(method)


def _family_text(family: str) -> str:
    """A family's label as plotly text (escaped: plotly reads HTML in labels)."""
    return html_text(family_label(family))


def _method_text(method: str) -> str:
    """A method's label as plotly text (escaped: plotly reads HTML in labels)."""
    return html_text(label(method))


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
    """Build a figure once per distinct data (lists compared by value) and hand the same object out again.

    Building a plotly figure costs 10–20 ms of property validation, several times what the page's cached
    query costs; every rerun of the analytics page (any click) rebuilt six. The figures returned are shared:
    callers pass them to ``st.plotly_chart`` (which copies them) and must not change them.
    """
    cached = lru_cache(maxsize=128)(lambda *args, **kwargs: builder(*args, **kwargs))

    @wraps(builder)
    def build(*args: Any, **kwargs: Any) -> go.Figure:
        frozen = tuple(tuple(a) if isinstance(a, list) else a for a in args)
        return cached(*frozen, **kwargs)

    return build  # type: ignore[return-value]


def _figure(title: str) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(title={"text": title, "x": 0, "y": 0.98, "yref": "container", "yanchor": "top",
                             "font": {"size": 15}}, **_LAYOUT)
    return fig


HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
#: Fewer buckets than this and a success-rate line is a few dots: show one bar per method instead.
MIN_LINE_BUCKETS = 3


def time_axis(grain: str, buckets: int) -> dict[str, Any]:
    """A readable Kuwait-time x axis: ``14:00`` ticks by hour, ``27 Nov`` by day, plotly's own by week."""
    if grain == "hour":
        two_days = buckets > 24
        return {"type": "date", "tickformat": "%a %H:%M" if two_days else "%H:%M",
                "dtick": (4 if two_days else 2) * HOUR_MS, "hoverformat": "%a %d %b, %H:00–%H:59 (Kuwait)",
                "title": {"text": "Kuwait time"}}
    if grain == "day":
        return {"type": "date", "tickformat": "%d %b", "hoverformat": "%a %d %b %Y",
                **({"dtick": DAY_MS} if buckets <= 14 else {})}
    return {"type": "date", "hoverformat": "week from %a %d %b %Y"}


@_shared
def volume_figure(series: Sequence[SeriesPoint], *, measure: str = "volume", weekly: bool = False,
                  grain: str | None = None) -> go.Figure:
    """Stacked bars per bucket by family: captured volume in KWD (``measure="volume"``) or count; ``grain`` is
    ``hour`` (Kuwait clock hours), ``day`` or ``week``."""
    grain = grain or ("week" if weekly else "day")
    unit = {"hour": "hour", "day": "day", "week": "week (from Sunday)"}[grain]
    title = f"Captured {'volume (KWD)' if measure == 'volume' else 'payments'} by {unit}"
    fig = _figure(title)
    for family in dict.fromkeys(p.family for p in series):
        points = [p for p in series if p.family == family]
        y = [kwd(p.volume_fils) for p in points] if measure == "volume" else [p.captured for p in points]
        hover = "%{y:,.3f} KWD" if measure == "volume" else "%{y:,} payments"
        fig.add_trace(go.Bar(
            x=[p.bucket for p in points], y=y, name=_family_text(family), marker_color=FAMILY_COLORS.get(family),
            hovertemplate=f"%{{fullData.name}}: {hover}<extra></extra>",
        ))
    buckets = len(dict.fromkeys(p.bucket for p in series))
    fig.update_layout(barmode="stack", yaxis={"tickformat": ",.3f" if measure == "volume" else ",d"},
                      xaxis=time_axis(grain, buckets))
    return fig


@_shared
def family_share_figure(families: Sequence[MixRow], *, measure: str = "volume") -> go.Figure:
    """Donut of KNET / card / wallet share of captured volume (or count)."""
    fig = _figure(f"Share by family ({'volume' if measure == 'volume' else 'count'})")
    values = [kwd(r.volume_fils) if measure == "volume" else r.captured for r in families]
    fig.add_trace(go.Pie(
        labels=[_family_text(r.family) for r in families], values=values, hole=0.55, sort=False,
        marker={"colors": [FAMILY_COLORS.get(r.family) for r in families]}, textinfo="label+percent",
        hovertemplate="%{label}: %{value:,.3f} KWD (%{percent})<extra></extra>" if measure == "volume"
        else "%{label}: %{value:,} payments (%{percent})<extra></extra>",
    ))
    fig.update_layout(showlegend=False, hovermode=False)
    return fig


@_shared
def wallet_figure(mix: Sequence[MixRow]) -> go.Figure:
    """Horizontal bars: each wallet's share of wallet volume (Apple Pay, Apple Pay over KNET, Google, Samsung)."""
    wallets = [r for r in mix if r.family == "wallet"]
    total = sum(r.volume_fils for r in wallets)
    fig = _figure("Inside wallets (share of wallet volume)")
    fig.add_trace(go.Bar(
        y=[_method_text(r.method) for r in wallets], x=[r.volume_fils / total if total else 0 for r in wallets],
        orientation="h", marker_color=[METHOD_COLORS.get(r.method, FAMILY_COLORS[OTHER]) for r in wallets],
        customdata=[[format_amount(r.volume_fils, grouping=True), r.captured] for r in wallets],
        hovertemplate="%{y}: %{x:.1%} — %{customdata[0]} KWD, %{customdata[1]:,} payments<extra></extra>",
    ))
    fig.update_layout(xaxis={"tickformat": ".0%", "rangemode": "tozero"}, yaxis={"autorange": "reversed"},
                      hovermode="closest", showlegend=False)
    return fig


@_shared
def success_figure(points: Sequence[SuccessPoint], *, weekly: bool = False) -> go.Figure:
    """One line per method: captured ÷ (captured + failed + cancelled) per bucket; with fewer than
    :data:`MIN_LINE_BUCKETS` buckets (today, two days) one bar per method over the whole period instead."""
    buckets = len(dict.fromkeys(p.bucket for p in points))
    if buckets < MIN_LINE_BUCKETS:
        return _success_bars(points)
    fig = _figure(f"Success rate by method, per {'week' if weekly else 'day'}")
    for method in dict.fromkeys(p.method for p in points):
        mine = [p for p in points if p.method == method and p.decided]
        fig.add_trace(go.Scatter(
            x=[p.bucket for p in mine], y=[p.rate for p in mine], mode="lines+markers", name=_method_text(method),
            line={"color": METHOD_COLORS.get(method, FAMILY_COLORS[OTHER]), "width": 2}, marker={"size": 4},
            customdata=[[p.captured, p.decided] for p in mine],
            hovertemplate="%{fullData.name}: %{y:.1%} (%{customdata[0]:,} of %{customdata[1]:,})<extra></extra>",
        ))
    fig.update_layout(yaxis={"tickformat": ".0%", "range": [0, 1.02]},
                      xaxis=time_axis("week" if weekly else "day", buckets))
    return fig


def _success_bars(points: Sequence[SuccessPoint]) -> go.Figure:
    """One bar per method: its success rate over all the period's buckets (exact integer sums)."""
    totals: dict[str, list[int]] = {}
    for p in points:
        total = totals.setdefault(p.method, [0, 0])
        total[0] += p.captured
        total[1] += p.decided
    methods = [m for m, (_, decided) in totals.items() if decided]
    fig = _figure("Success rate by method, this period")
    fig.add_trace(go.Bar(
        x=[_method_text(m) for m in methods], y=[totals[m][0] / totals[m][1] for m in methods],
        marker_color=[METHOD_COLORS.get(m, FAMILY_COLORS[OTHER]) for m in methods],
        customdata=[totals[m] for m in methods], texttemplate="%{y:.0%}", textposition="outside",
        hovertemplate="%{x}: %{y:.1%} (%{customdata[0]:,} of %{customdata[1]:,})<extra></extra>",
    ))
    fig.update_layout(yaxis={"tickformat": ".0%", "range": [0, 1.1]}, xaxis={"type": "category"},
                      hovermode="closest", showlegend=False)
    return fig


@_shared
def heatmap_figure(cells: Sequence[HeatCell]) -> go.Figure:
    """Captured payments by Kuwait hour of day (x) and weekday (y, Sunday on top)."""
    grid = [[0] * 24 for _ in range(7)]
    for cell in cells:
        grid[cell.weekday][cell.hour] = cell.captured
    fig = _figure("When customers pay (captured payments, Kuwait time)")
    fig.add_trace(go.Heatmap(
        z=grid, x=list(range(24)), y=list(WEEKDAYS), colorscale=HEAT_COLORSCALE, xgap=1, ygap=1,
        hovertemplate="%{y} %{x}:00–%{x}:59: %{z:,} payments<extra></extra>", colorbar={"title": {"text": "Paid"}},
    ))
    fig.update_layout(yaxis={"autorange": "reversed", "type": "category"},
                      xaxis={"dtick": 1, "title": {"text": "Hour of day"}}, hovermode="closest")
    return fig


@_shared
def refunds_figure(rows: Sequence[RefundByMethod]) -> go.Figure:
    """Refunded amount per method (coloured by family), count in the hover."""
    fig = _figure("Refunded by method (KWD)")
    fig.add_trace(go.Bar(
        x=[_method_text(r.method) for r in rows], y=[kwd(r.refunded_fils) for r in rows],
        marker_color=[METHOD_COLORS.get(r.method, FAMILY_COLORS[OTHER]) for r in rows],
        customdata=[[r.refunds] for r in rows],
        hovertemplate="%{x}: %{y:,.3f} KWD in %{customdata[0]:,} refunds<extra></extra>",
    ))
    fig.update_layout(yaxis={"tickformat": ",.3f"}, hovermode="closest", showlegend=False)
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
