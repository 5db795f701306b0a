"""Command line: ``python -m dashboard demo`` (the one-command demo) and ``python -m dashboard sync`` (cron)."""

from __future__ import annotations

import argparse
import logging
import sys
import warnings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard", description="Souq Desk command line")
    sub = parser.add_subparsers(dest="command", required=True)
    from dashboard.demo_args import add_arguments  # stdlib only: --help works before the packages are installed

    add_arguments(sub.add_parser("demo", help="start sandbox + identity provider + dashboard (demo mode)"))
    sync_parser = sub.add_parser("sync", help="poll the gateway for payments that are not final yet (for cron)")
    sync_parser.add_argument("--limit", type=int, default=200, help="most payments to look up in this run")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*(authlib|httpx).*deprecated", category=Warning)
    if args.command == "demo":
        from dashboard import demo

        return demo.run(args)
    from dashboard.cli_sync import run_sync

    return run_sync(limit=args.limit)


if __name__ == "__main__":
    sys.exit(main())
