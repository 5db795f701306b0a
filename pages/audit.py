"""Audit log (placeholder until its feature lands)."""

from __future__ import annotations

import streamlit as st

from dashboard import state

state.actor()
st.title("Audit log")
st.info("This page is being built.")
