"""ASGI entry: ``streamlit run streamlit_app.py`` serves the dashboard UI plus the webhook and health routes."""

from __future__ import annotations

import streamlit as st

from dashboard.routes import routes
from dashboard.startup import lifespan

app = st.App("app.py", routes=routes(), lifespan=lifespan)
