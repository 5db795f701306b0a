"""dashboard.tables: one rule for every table, mirrored and right-aligned in Arabic, unchanged in English."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import i18n, tables

ROWS: list[Mapping[str, Any]] = [{"Order": "SD-1", "Amount": "1.000", "Status": "Paid"},
                                 {"Order": "SD-2", "Amount": "2.000", "Status": "x"}]


def test_english_tables_keep_their_column_order_and_the_pages_config() -> None:
    with i18n.use("en"):
        assert tables.mirrored(iter(ROWS)) == ROWS
        assert tables.aligned(ROWS, None) is None
        given = {"Order": st.column_config.TextColumn(width="small")}
        assert tables.aligned(ROWS, given) == given


def test_arabic_tables_put_the_first_column_at_the_right_edge_and_align_every_cell_right() -> None:
    with i18n.use("ar"):
        shown = tables.mirrored(ROWS)
        assert isinstance(shown, list) and [list(r) for r in shown] == [["Status", "Amount", "Order"]] * 2
        assert shown[0]["Order"] == "SD-1"  # the values stay with their column; rows stay in place
        frame = tables.mirrored(pd.DataFrame(ROWS))
        assert isinstance(frame, pd.DataFrame) and list(frame.columns) == ["Status", "Amount", "Order"]
        config = tables.aligned(shown, {"Order": st.column_config.TextColumn(width="small"),
                                        "Status": st.column_config.Column(alignment="center")})
        assert config is not None and set(config) == {"Order", "Amount", "Status"}
        assert config["Order"]["alignment"] == "right" and config["Order"]["width"] == "small"  # page's width kept
        assert config["Amount"]["alignment"] == "right"
        assert config["Status"]["alignment"] == "center"  # a page's own choice wins
