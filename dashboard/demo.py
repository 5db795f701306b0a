"""``python -m dashboard demo``: sandbox gateway + local OIDC provider + dashboard, wired together, one command.

Nothing to configure: a throw-away data folder, a generated cookie secret, demo users for every role and
~90 days of demo payments. Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date
from pathlib import Path

import httpx

from services.db import create_schema, make_engine, sqlite_url
from services.demo.seed import DEMO_USERS, seed_payments, seed_staff
from services.search import ensure_search_support
from services.timeutil import to_kuwait, utcnow

ROOT = Path(__file__).resolve().parent.parent
CLIENT_ID = "souq-desk-demo"
#: The app server's environment beyond the settings (also ``deploy/Dockerfile`` and the README's run command).
#: ``MALLOC_ARENA_MAX=2``: Streamlit runs every script run on a new thread, and glibc gives threads up to 16
#: malloc arenas on two cores; memory freed in one (a page's query results) is kept there as free space for
#: later. With 2 arenas that space is reused: 20 browser sessions at 1,000,000 payments, malloc's free-held
#: memory 81 -> 20 MB, server RSS 342 -> 331 MB, peak 356 -> 338 MB (bench/session_memory.py, issue 15).
SERVER_ENV = {"MALLOC_ARENA_MAX": "2"}


def _wait_until(url: str, what: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited early with code {proc.returncode}; see its log.")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not become ready at {url} within {timeout:.0f} s.")


@contextmanager
def _process(cmd: list[str], log_path: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            yield proc
        finally:
            _stop_process(proc)


@contextmanager
def _oidc_provider(port: int) -> Iterator[str]:
    """A local OpenID Connect provider (oidc-provider-mock) whose login page lists the demo users as buttons."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import oidc_provider_mock

    users = [
        oidc_provider_mock.User(sub=u.email, claims={"email": u.email, "email_verified": True, "name": u.name})
        for u in DEMO_USERS
    ]
    with oidc_provider_mock.run_server_in_thread(port=port, user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"


def write_secrets(path: Path, *, app_port: int, oidc_url: str) -> None:
    """The ``[auth]`` section for the demo: a fresh random cookie secret, the local provider."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "[auth]\n"
        f'redirect_uri = "http://localhost:{app_port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_urlsafe(32)}"\n'
        f'client_id = "{CLIENT_ID}"\n'
        'client_secret = "demo-client-secret"\n'
        f'server_metadata_url = "{oidc_url}/.well-known/openid-configuration"\n'
    )
    path.chmod(0o600)


def demo_env(args: argparse.Namespace, data_dir: Path) -> dict[str, str]:
    """Environment for the dashboard process in demo mode."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOUQ_")}
    env.update(
        SOUQ_ENVIRONMENT="demo",
        SOUQ_GATEWAY_URL=f"http://localhost:{args.sandbox_port}/api/v1/",
        SOUQ_GATEWAY_TOKEN="jtest123",  # noqa: S106 - the public sandbox token (contract §1.2)
        SOUQ_DATABASE_URL=sqlite_url(data_dir / "souq.db"),
        SOUQ_ADMINS="admin@souq.demo",
        SOUQ_PUBLIC_URL=f"http://localhost:{args.port}",
        SOUQ_STATUS_RATE_PER_MINUTE=str(args.status_limit),
        SOUQ_SYNC_INTERVAL_SECONDS=str(args.sync_interval),
        PYTHONUNBUFFERED="1",
        **SERVER_ENV,
    )
    return env


def run(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    anchor = date.fromisoformat(args.anchor) if args.anchor else to_kuwait(utcnow()).date()
    # With the default anchor (today) the history runs up to this minute, so "today" is not empty.
    until = None if args.anchor else utcnow().replace(second=0, microsecond=0)
    env = demo_env(args, data_dir)
    engine = make_engine(env["SOUQ_DATABASE_URL"])
    create_schema(engine)
    seed_staff(engine)
    added = seed_payments(engine, anchor, count=args.payments, until=until,
                          deposit_invoice_base=f"http://localhost:{args.sandbox_port}")
    ensure_search_support(engine)
    print(f"Demo data: {added} payments added to the dashboard cache ({args.payments} in the 90-day history, "
          "plus today's so far).")
    engine.dispose()

    with ExitStack() as stack:
        sandbox_cmd = [
            sys.executable, "-m", "sandbox", "--port", str(args.sandbox_port), "--host", "127.0.0.1",
            "--db", str(data_dir / "sandbox.db"), "--public-url", f"http://localhost:{args.sandbox_port}",
            "--demo-anchor", anchor.isoformat(), "--demo-count", str(args.payments),
            "--deposit-delay", str(args.deposit_delay),
            *(["--demo-until", until.isoformat()] if until else []),
            "--status-limit", str(args.status_limit), "--refund-delay", str(args.refund_delay),
            "--convenience", "payment_method",  # wallets visible in the demo charts (a sandbox-only field)
        ]
        sandbox = stack.enter_context(_process(sandbox_cmd, data_dir / "sandbox.log", env))
        oidc_url = stack.enter_context(_oidc_provider(args.oidc_port))
        secrets_path = data_dir / "secrets.toml"
        write_secrets(secrets_path, app_port=args.port, oidc_url=oidc_url)
        app_cmd = [
            sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"),
            "--server.port", str(args.port), "--server.address", "localhost", "--server.headless", "true",
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
            "--secrets.files", str(secrets_path),
        ]
        # The dashboard's background sync starts with it: let the gateway listen first (no connection errors).
        _wait_until(f"http://localhost:{args.sandbox_port}/__sandbox/health", "The sandbox gateway", sandbox)
        app = _start_app(app_cmd, data_dir, env)
        stack.callback(lambda: _stop_process(app))
        _wait_until(f"http://localhost:{args.port}/_stcore/health", "The dashboard", app)
        _announce(args, oidc_url, data_dir)
        if args.ready_file:
            Path(args.ready_file).write_text(json.dumps({"app": f"http://localhost:{args.port}",
                                                         "sandbox": f"http://localhost:{args.sandbox_port}",
                                                         "oidc": oidc_url}))
        stop = _install_signal_handlers()
        while not stop["now"]:
            if sandbox.poll() is not None:
                print("The sandbox gateway stopped unexpectedly; see the logs in", data_dir, file=sys.stderr)
                return 1
            if app.poll() is not None:
                app = _restart_app(app, app_cmd, data_dir, env, args.restart_after, stop)
            time.sleep(0.5)
    print("Demo stopped.")
    return 0


def _start_app(cmd: list[str], data_dir: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """The dashboard process; its pid goes to ``app.pid`` so it can be stopped alone (to try crash recovery)."""
    with (data_dir / "app.log").open("ab") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    (data_dir / "app.pid").write_text(f"{proc.pid}\n")
    return proc


def _stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _restart_app(dead: subprocess.Popen[bytes], cmd: list[str], data_dir: Path, env: dict[str, str],
                 delay: float, stop: dict[str, bool]) -> subprocess.Popen[bytes]:
    """Like a process supervisor: the gateway and login stay up while the dashboard is down, then it comes back.

    Payments made meanwhile reach the restarted dashboard by the gateway's webhook retries and by its sync pass.
    """
    print(f"The dashboard stopped (exit code {dead.returncode}). The sandbox gateway keeps running: payments "
          f"made now are caught up when the dashboard is back. Restarting it in {delay:g} s.", flush=True)
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline and not stop["now"]:
        time.sleep(0.2)
    if stop["now"]:
        return dead
    proc = _start_app(cmd, data_dir, env)
    print("The dashboard is starting again.", flush=True)
    return proc


def _install_signal_handlers() -> dict[str, bool]:
    flag = {"now": False}

    def _stop(_signum: int, _frame: object) -> None:
        flag["now"] = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    return flag


def _announce(args: argparse.Namespace, oidc_url: str, data_dir: Path) -> None:
    lines = [
        "",
        "Souq Desk demo is running — TEST / SANDBOX, no real money.",
        f"  Dashboard:        http://localhost:{args.port}",
        f"  Sandbox gateway:  http://localhost:{args.sandbox_port}  (hosted payment page, KNET test card"
        " 8888880000000001)",
        f"  Identity provider: {oidc_url}",
        "  Log in by clicking one of these users on the provider's page:",
    ]
    lines += [f"    {u.email:<24} {u.role.value if u.role else 'not on the staff list (no access)'}"
              for u in DEMO_USERS]
    lines += [f"  Data and logs: {data_dir}", "Press Ctrl-C to stop.", ""]
    print("\n".join(lines), flush=True)


