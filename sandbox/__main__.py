"""``python -m sandbox``: run the UPayments stand-in on a port (demo mode, manual testing)."""

from __future__ import annotations

import argparse
import logging
from datetime import date, datetime

import uvicorn

from .app import create_app
from .config import CONVENIENCES, SandboxConfig


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m sandbox", description="Local UPayments API simulator.")
    parser.add_argument("--port", type=int, required=True, help="TCP port to listen on")
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--db", default="data/sandbox.db", help="SQLite file (default data/sandbox.db)")
    parser.add_argument("--public-url", help="base URL used in payment links (default http://localhost:PORT)")
    parser.add_argument("--demo-anchor", type=date.fromisoformat,
                        help="seed the demo history ending on this day, YYYY-MM-DD (idempotent)")
    parser.add_argument("--demo-until", type=datetime.fromisoformat,
                        help="also the anchor day's payments up to this ISO moment (with a time zone)")
    parser.add_argument("--demo-count", type=int, default=20_000, help="demo payments (default 20000)")
    parser.add_argument("--status-limit", type=int, default=30, help="get-payment-status calls per minute")
    parser.add_argument("--refund-delay", type=float, default=20, help="seconds until a refund is refunded")
    parser.add_argument("--deposit-delay", type=float, default=None,
                        help="deposit new payments after this many seconds instead of 17:00 on the next "
                             "business day (demo mode's compressed clock)")
    parser.add_argument("--convenience", action="append", default=[], choices=sorted(CONVENIENCES),
                        help="switch on a sandbox-only convenience the live gateway lacks (repeatable; none by "
                             "default)")
    parser.add_argument("--log-level", default="info", help="log level (default info)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Build the config from the options and serve until interrupted."""
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = SandboxConfig(
        db_path=args.db, public_url=args.public_url or f"http://localhost:{args.port}",
        status_limit_per_minute=args.status_limit, refund_delay_seconds=args.refund_delay,
        demo_anchor=args.demo_anchor, demo_count=args.demo_count, demo_until=args.demo_until,
        deposit_delay_seconds=args.deposit_delay,
        conveniences=frozenset(args.convenience),
    )
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level=args.log_level,
                timeout_graceful_shutdown=2)


if __name__ == "__main__":
    main()
