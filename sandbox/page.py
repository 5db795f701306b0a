"""Hosted payment page (placeholder until the HTML page lands)."""

from __future__ import annotations

from starlette.routing import Route

ROUTES: list[Route] = []
