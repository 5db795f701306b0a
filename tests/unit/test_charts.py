"""Figure builders: the expected traces, one colour per family, Sunday-first heatmap, CSV that matches."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal

from dashboard import charts, i18n
from services.analytics import HeatCell, MixRow, RefundByMethod, SeriesPoint, SuccessPoint

D1, D2 = date(2026, 3, 1), date(2026, 3, 2)
SERIES = [
    SeriesPoint(D1, "knet", 2, 14_000), SeriesPoint(D1, "card", 0, 0), SeriesPoint(D1, "wallet", 1, 12_500),
    SeriesPoint(D2, "knet", 1, 5_250), SeriesPoint(D2, "card", 1, 20_000), SeriesPoint(D2, "wallet", 0, 0),
]
MIX = [
    MixRow("knet", "knet", 3, 19_250, 0.3, 0.4), MixRow("card", "card", 1, 20_000, 0.3, 0.2),
    MixRow("wallet", "apple_pay", 1, 12_500, 0.2, 0.2), MixRow("wallet", "apple_pay_knet", 1, 3_000, 0.1, 0.1),
    MixRow("wallet", "samsung_pay", 1, 8_125, 0.1, 0.1),
]


def rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_volume_figure_stacks_one_trace_per_family_in_its_colour() -> None:
    fig = charts.volume_figure(SERIES)
    assert [t.name for t in fig.data] == ["KNET", "Card", "Wallet"]
    assert [t.marker.color for t in fig.data] == ["#2E86DE", "#E69F00", "#17A589"]
    assert fig.layout.barmode == "stack"
    assert list(fig.data[0].y) == [Decimal("14.000"), Decimal("5.250")]  # KWD with 3 decimals, from fils
    count = charts.volume_figure(SERIES, measure="count", weekly=True)
    assert list(count.data[1].y) == [0, 1] and "week" in count.layout.title.text


def test_method_colours_are_shades_of_their_family() -> None:
    assert charts.METHOD_COLORS["knet"] == charts.FAMILY_COLORS["knet"]
    assert charts.METHOD_COLORS["card"] == charts.FAMILY_COLORS["card"]
    assert charts.METHOD_COLORS["apple_pay"] == charts.FAMILY_COLORS["wallet"]
    assert len(set(charts.METHOD_COLORS.values())) == len(charts.METHOD_COLORS)


def test_share_and_wallet_figures() -> None:
    families = [MixRow("knet", "knet", 3, 19_250, 0.4, 0.5), MixRow("wallet", "wallet", 3, 23_625, 0.6, 0.5)]
    pie = charts.family_share_figure(families)
    assert list(pie.data[0].labels) == ["KNET", "Wallet"]
    assert list(pie.data[0].marker.colors) == ["#2E86DE", "#17A589"]
    wallets = charts.wallet_figure(MIX)
    bar = wallets.data[0]
    assert list(bar.y) == ["Apple Pay", "Apple Pay (KNET)", "Samsung Pay"]  # no KNET or card here
    assert sum(bar.x) == 1.0 and bar.x[0] == 12_500 / 23_625
    assert list(bar.marker.color) == [charts.METHOD_COLORS[m] for m in ("apple_pay", "apple_pay_knet", "samsung_pay")]


def test_success_figure_has_a_line_per_method_and_skips_empty_points() -> None:
    d3 = D2 + (D2 - D1)
    points = [SuccessPoint(D1, "knet", 9, 10), SuccessPoint(D2, "knet", 0, 0), SuccessPoint(d3, "knet", 1, 1),
              SuccessPoint(D1, "card", 1, 2)]
    fig = charts.success_figure(points)  # three buckets: lines
    assert [t.name for t in fig.data] == ["KNET", "Card"]
    assert list(fig.data[0].y) == [0.9, 1.0] and list(fig.data[1].y) == [0.5]
    assert fig.data[0].line.color == "#2E86DE" and tuple(fig.layout.yaxis.range) == (0, 1.02)


def test_success_with_too_few_buckets_is_one_bar_per_method() -> None:
    points = [SuccessPoint(D1, "knet", 9, 10), SuccessPoint(D2, "knet", 1, 10), SuccessPoint(D1, "card", 1, 2)]
    fig = charts.success_figure(points)  # two buckets: a line would be two dots
    assert all(trace.type == "bar" for trace in fig.data)
    rates = {label: rate for trace in fig.data for label, rate in zip(trace.x, trace.y, strict=True)}
    assert rates == {"KNET": 10 / 20, "Card": 1 / 2}


def test_heatmap_orders_weekdays_sunday_first() -> None:
    cells = [HeatCell(d, h, 0) for d in range(7) for h in range(24)]
    cells[0 * 24 + 21] = HeatCell(0, 21, 5)  # Sunday 21:00
    cells[6 * 24 + 2] = HeatCell(6, 2, 3)  # Saturday 02:00
    fig = charts.heatmap_figure(cells)
    heat = fig.data[0]
    assert list(heat.y) == ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    assert list(heat.x) == list(range(24))
    assert heat.z[0][21] == 5 and heat.z[6][2] == 3 and sum(map(sum, heat.z)) == 8


def test_refunds_figure() -> None:
    fig = charts.refunds_figure([RefundByMethod("knet", "knet", 1, 6_000), RefundByMethod("card", "card", 2, 2_500)])
    assert list(fig.data[0].x) == ["KNET", "Card"] and list(fig.data[0].y) == [Decimal("6.000"), Decimal("2.500")]
    assert list(fig.data[0].marker.color) == ["#2E86DE", "#E69F00"]


def test_png_download_is_configured_with_a_good_file_name() -> None:
    stem = charts.file_stem("volume-by-family", D1, D2, "wallet")
    assert stem == "souq-volume-by-family-2026-03-01_2026-03-02-wallet"
    config = charts.chart_config(stem)
    assert config["toImageButtonOptions"] == {"format": "png", "filename": stem, "scale": 2}


def test_csv_matches_the_figure_and_is_safe() -> None:
    data = rows(charts.volume_csv(SERIES))
    assert data[0] == ["bucket_start", "family", "captured_payments", "volume_kwd"]
    assert data[1] == ["2026-03-01", "knet", "2", "14.000"] and len(data) == 7
    assert rows(charts.mix_csv(MIX))[3][:4] == ["wallet", "apple_pay", "1", "12.500"]
    assert rows(charts.csv_bytes(["a"], [["=HYPERLINK(1)"], ["@x"], ["ok"]]))[1:] == [["'=HYPERLINK(1)"], ["'@x"],
                                                                                         ["ok"]]
    heat = rows(charts.heat_csv([HeatCell(0, 21, 5)]))
    assert heat[1] == ["Sun", "21", "5"]


HOSTILE = '<a href="https://evil.example/x">pay</a><b>B</b><br>%{y}\u202e'


def _figure_texts(fig: object) -> list[str]:
    """Every string plotly will render as (HTML-subset) text: names, categories, labels, hover templates."""
    found: list[str] = []
    for trace in fig.data:  # type: ignore[attr-defined]
        for attr in ("name", "hovertemplate"):
            value = getattr(trace, attr, None)
            if isinstance(value, str):
                found.append(value)
        for attr in ("x", "y", "labels"):
            found += [v for v in (getattr(trace, attr, None) or ()) if isinstance(v, str)]
    return found


def test_gateway_method_names_reach_plotly_escaped_and_never_inside_a_hover_template() -> None:
    figures = [
        charts.wallet_figure([MixRow("wallet", HOSTILE, 1, 1_000, 1.0, 1.0)]),
        charts.success_figure([SuccessPoint(D1, HOSTILE, 1, 2)]),
        charts.refunds_figure([RefundByMethod("card", HOSTILE, 1, 500)]),
        charts.family_share_figure([MixRow(HOSTILE, "card", 1, 1_000, 1.0, 1.0)]),
    ]
    for fig in figures:
        texts = _figure_texts(fig)
        assert any("&lt;a href=&quot;https://evil.example/x&quot;&gt;" in t for t in texts), texts
        assert not any("<a" in t or "<b>" in t or "<br>" in t or "\u202e" in t for t in texts), texts
        templates = [t.hovertemplate for t in fig.data if isinstance(t.hovertemplate, str)]
        assert not any("evil" in t for t in templates), templates


ARABIC = re.compile(r"[\u0600-\u06ff]")
ARABIC_DIGIT = re.compile(r"[٠-٩]")


def bare(text: str) -> str:
    """Without the bidi isolate that wraps each line of plotly text in Arabic."""
    assert text.startswith("\u2068") and text.endswith("\u2069"), text
    return text[1:-1]


def test_arabic_figures_speak_arabic_with_babel_dates_and_the_persons_digits() -> None:
    english = charts.volume_figure(SERIES)
    with i18n.use("ar", "arab"):
        fig = charts.volume_figure(SERIES)
        heat = charts.heatmap_figure([HeatCell(0, 21, 5)])
        refunds = charts.refunds_figure([RefundByMethod("knet", "knet", 2, 6_000)])
    assert fig is not english and "KWD" not in fig.layout.title.text and ARABIC.search(fig.layout.title.text)
    # time stays left to right, as ordered categories named by Babel (Arabic month names), every day present
    assert fig.layout.xaxis.type == "category" and bare(fig.layout.xaxis.categoryarray[0]).startswith("الأحد")
    assert "مارس" in fig.layout.xaxis.ticktext[0] and ARABIC_DIGIT.search(fig.layout.xaxis.ticktext[0])
    assert not fig.layout.xaxis.autorange  # not mirrored
    assert all(ARABIC_DIGIT.search(t) for t in fig.layout.yaxis.ticktext) and fig.layout.yaxis.side == "right"
    assert (fig.layout.title.x, fig.layout.legend.x, fig.layout.legend.xanchor) == (1, 1, "right")
    assert [bare(t.name) for t in fig.data] == ["KNET", "بطاقة", "محفظة رقمية"]
    assert fig.data[0].customdata[0][0] == "١٤٫٠٠٠ د.ك."  # hover values by Babel, not d3
    assert bare(heat.data[0].y[0]) == "الأحد" and bare(heat.data[0].customdata[0][21][0]).startswith("الأحد ٢١:٠٠")
    assert refunds.layout.xaxis.autorange == "reversed"  # methods read from the right
    assert "%{customdata[0]}" in refunds.data[0].hovertemplate and "KWD" not in refunds.data[0].hovertemplate
    with i18n.use("ar"):  # Western digits by choice: Arabic words, 0-9 digits, and a figure of its own
        western = charts.volume_figure(SERIES)
    assert western is not fig and not any(ARABIC_DIGIT.search(t) for t in western.layout.yaxis.ticktext)
    assert charts.volume_figure(SERIES) is english  # English unchanged, still shared


def test_nice_ticks_cover_the_top_in_round_steps() -> None:
    assert charts._nice_ticks(0.9) == [0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
    assert charts._nice_ticks(7, whole=True) == [0, 2, 4, 6, 8]
    assert charts._nice_ticks(12_345.5) == [0, 2500.0, 5000.0, 7500.0, 10000.0, 12500.0]
    assert charts._nice_ticks(0, whole=True) == [0, 1]
