"""Integration fixtures: a real sandbox (uvicorn on a free loopback port, its own SQLite file) per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.config import SandboxConfig
from sandbox.server import RunningSandbox, serve_in_thread

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]


def fast_config(db_path: Path, **overrides: object) -> SandboxConfig:
    """Sandbox settings for tests: quick refunds and webhook retries, a high status limit."""
    values: dict[str, object] = {"refund_delay_seconds": 1.0, "status_limit_per_minute": 10_000,
                                 "webhook_backoff_seconds": 0.05}
    values.update(overrides)
    return SandboxConfig(db_path=db_path, **values)  # type: ignore[arg-type]


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[RunningSandbox]:
    """A fresh sandbox with its own database; change settings with ``sandbox.configure(...)``."""
    with serve_in_thread(fast_config(tmp_path / "sandbox.db")) as running:
        yield running


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """pytest-playwright hook: Debian's chromium, never a downloaded browser."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}
