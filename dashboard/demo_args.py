"""The demo command's options, with the standard library only, so ``./scripts/demo --help`` answers before anything
is installed."""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8501, help="dashboard port (default 8501)")
    parser.add_argument("--sandbox-port", type=int, default=8600, help="sandbox gateway port (default 8600)")
    parser.add_argument("--oidc-port", type=int, default=9400, help="identity provider port (default 9400)")
    parser.add_argument("--data-dir", default=str(ROOT / "data" / "demo"), help="where demo databases live")
    parser.add_argument("--payments", type=int, default=20_000, help="demo history size (default 20000)")
    parser.add_argument("--anchor", help="last day of the demo history, YYYY-MM-DD (default: today in Kuwait)")
    parser.add_argument("--status-limit", type=int, default=30, help="status look-ups per minute")
    parser.add_argument("--deposit-delay", type=int, default=120,
                        help="seconds until a payment made during the demo is deposited (default 120)")
    parser.add_argument("--refund-delay", type=int, default=20, help="seconds until a sandbox refund completes")
    parser.add_argument("--sync-interval", type=int, default=10, help="seconds between background syncs")
    parser.add_argument("--restart-after", type=float, default=30,
                        help="seconds before a stopped dashboard is started again (default 30)")
    parser.add_argument("--ready-file", help="write the URLs as JSON here once everything is up (for tests)")
