"""Several app servers on one PostgreSQL database behind Debian's nginx, started on this machine.

Used by the multi-server test (``tests/e2e/test_multi_server.py``) and ``bench/multi.py``; it runs what
``deploy/docker-compose.yml`` runs, without containers: the gateway (the sandbox, with a tally of status look-ups
at its door, :mod:`bench.counting_gateway`), the demo's OIDC provider, ``streamlit run streamlit_app.py`` three
times with ``SOUQ_DATABASE_URL`` on PostgreSQL, and nginx configured from ``deploy/nginx.conf.template``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import string
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from dashboard.demo import write_secrets
from services.db import make_engine
from services.demo.seed import DEMO_USERS, seed_staff

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "nginx.conf.template"
NGINX = next((p for p in ("/usr/sbin/nginx", "/usr/bin/nginx") if Path(p).exists()), "nginx")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def nginx_available() -> bool:
    try:
        return subprocess.run([NGINX, "-v"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def render_nginx(apps: list[str], listen: str) -> str:
    """deploy/nginx.conf.template with the upstreams filled in (nginx's own ``$variables`` are kept)."""
    values = {f"SOUQ_APP{i + 1}": app for i, app in enumerate(apps)} | {"SOUQ_LISTEN": listen}
    return string.Template(TEMPLATE.read_text()).safe_substitute(values)


def nginx_main_config(root: Path, site: Path) -> str:
    """A whole nginx.conf around the site file, everything under ``root`` (no system paths, no daemon)."""
    tmp = root / "nginx-tmp"
    tmp.mkdir(exist_ok=True)
    temps = "\n".join(f"    {name}_temp_path {tmp / name};" for name in ("client_body", "proxy", "fastcgi", "uwsgi",
                                                                           "scgi"))
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (f"{user}daemon off;\nworker_processes 1;\npid {root / 'nginx.pid'};\n"
            f"error_log {root / 'nginx-error.log'} warn;\nevents {{ worker_connections 1024; }}\n"
            f"http {{\n    access_log {root / 'nginx-access.log'};\n{temps}\n    include {site};\n}}\n")


@dataclass
class App:
    port: int
    log: Path
    name: str
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Cluster:
    root: Path
    database_url: str
    proxy: str
    sandbox: str
    oidc: str
    apps: list[App]
    env: dict[str, str]
    secrets: Path
    _nginx: subprocess.Popen[bytes] | None = None
    _nginx_conf: Path = field(default_factory=Path)

    # ---------------------------------------------------------------- app servers

    def start_app(self, index: int) -> None:
        app = self.apps[index]
        cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"),
               "--server.port", str(app.port), "--server.address", "127.0.0.1", "--server.headless", "true",
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
               "--secrets.files", str(self.secrets)]
        env = self.env | {"SOUQ_SERVER_NAME": app.name}  # the operator's name for it, as deploy/ sets app1..3
        with app.log.open("ab") as log:
            app.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def kill_app(self, index: int) -> None:
        """SIGKILL: the server dies without any goodbye (its sessions, its leader lock, its queue)."""
        proc = self.apps[index].proc
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def wait_ready(self, index: int, timeout: float = 90.0) -> None:
        _wait(f"{self.apps[index].url}/api/ready", f"app server {index}", timeout, self.apps[index].proc)

    def health(self, index: int) -> dict[str, Any] | None:
        """This server's health answer (with ``sync``: leader or follower), or None when it does not answer."""
        try:
            response = httpx.get(f"{self.apps[index].url}/api/health", timeout=3)
        except httpx.HTTPError:
            return None
        return response.json() if response.status_code == 200 else None

    def leaders(self) -> list[int]:
        return [i for i in range(len(self.apps)) if (self.health(i) or {}).get("sync") == "leader"]

    def wait_leader(self, timeout: float = 60.0, *, not_: int | None = None) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [i for i in self.leaders() if i != not_]
            if found:
                return found[0]
            time.sleep(0.2)
        raise RuntimeError(f"no sync leader within {timeout:.0f} s")

    def server_of_cookie(self, value: str) -> int | None:
        """Which app server the proxy sends a browser with sticky cookie ``value`` to."""
        response = httpx.get(f"{self.proxy}/api/health", cookies={"souq_server": value}, timeout=5)
        names = {a.name: i for i, a in enumerate(self.apps)}
        return names.get(response.json().get("server", ""))

    def cookie_for(self, index: int) -> str:
        """A sticky-cookie value the proxy maps to app server ``index``."""
        for n in range(500):
            if self.server_of_cookie(f"pin{n}") == index:
                return f"pin{n}"
        raise RuntimeError(f"no cookie value maps to app server {index}")

    # ---------------------------------------------------------------- proxy and gateway

    def start_nginx(self) -> None:
        self._nginx = subprocess.Popen([NGINX, "-c", str(self._nginx_conf), "-p", str(self.root)],
                                       stdout=subprocess.DEVNULL, stderr=(self.root / "nginx.out").open("ab"),
                                       start_new_session=True)
        _wait(f"{self.proxy}/api/health", "nginx", 30, self._nginx, any_answer=True)

    def stop_nginx(self) -> None:
        if self._nginx is not None and self._nginx.poll() is None:
            self._nginx.terminate()
            self._nginx.wait(10)

    def lookups(self) -> list[dict[str, Any]]:
        """Every status look-up the gateway answered, counted at its door."""
        result: list[dict[str, Any]] = httpx.get(f"{self.sandbox}/__count/lookups", timeout=10).json()
        return result


def _wait(url: str, what: str, timeout: float, proc: subprocess.Popen[bytes] | None = None, *,
          any_answer: bool = False) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}")
        try:
            code = httpx.get(url, timeout=2).status_code
            if code == 200 or (any_answer and code < 600):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} was not ready at {url} within {timeout:.0f} s")


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None and proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)


def _stop_app(app: App) -> None:
    _stop(app.proc)  # the process running now (restarted ones included)


@contextmanager
def _oidc(port: int) -> Iterator[str]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import oidc_provider_mock

    users = [oidc_provider_mock.User(sub=u.email, claims={"email": u.email, "email_verified": True, "name": u.name})
             for u in DEMO_USERS]
    with oidc_provider_mock.run_server_in_thread(port=port, user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"


@contextmanager
def running_cluster(database_url: str, root: Path, *, servers: int = 3, status_rate: int = 30,
                    sync_interval: int = 2) -> Iterator[Cluster]:
    """Start the gateway, the login provider, ``servers`` app servers on ``database_url`` (all at once: they
    migrate an empty database once between them) and nginx; stop all on exit (the database is the caller's)."""
    root.mkdir(parents=True, exist_ok=True)
    proxy_port, sandbox_port = free_port(), free_port()
    proxy, sandbox = f"http://localhost:{proxy_port}", f"http://localhost:{sandbox_port}"
    with ExitStack() as stack:
        gateway = subprocess.Popen(
            [sys.executable, "-m", "bench.counting_gateway", "--port", str(sandbox_port), "--db",
             str(root / "sandbox.db"), "--public-url", sandbox], cwd=ROOT, start_new_session=True,
            stdout=(root / "sandbox.log").open("ab"), stderr=subprocess.STDOUT)
        stack.callback(_stop, gateway)
        _wait(f"{sandbox}/__sandbox/health", "the sandbox gateway", 60, gateway)
        oidc = stack.enter_context(_oidc(free_port()))
        secrets = root / "secrets.toml"
        write_secrets(secrets, app_port=proxy_port, oidc_url=oidc)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOUQ_")}
        env.update(SOUQ_ENVIRONMENT="demo", SOUQ_GATEWAY_URL=f"{sandbox}/api/v1/", SOUQ_GATEWAY_TOKEN="jtest123",
                   SOUQ_DATABASE_URL=database_url, SOUQ_ADMINS="admin@souq.demo", SOUQ_PUBLIC_URL=proxy,
                   SOUQ_STATUS_RATE_PER_MINUTE=str(status_rate), SOUQ_SYNC_INTERVAL_SECONDS=str(sync_interval),
                   PYTHONUNBUFFERED="1")
        apps = [App(free_port(), root / f"app{i}.log", f"app{i + 1}") for i in range(servers)]
        cluster = Cluster(root=root, database_url=database_url, proxy=proxy, sandbox=sandbox, oidc=oidc,
                          apps=apps, env=env, secrets=secrets)
        for app in apps:
            stack.callback(_stop_app, app)
        for i in range(servers):  # all at once: the migrations must still run once
            cluster.start_app(i)
        for i in range(servers):
            cluster.wait_ready(i)
        engine = make_engine(database_url)  # the servers brought the schema to head (once, under a lock)
        seed_staff(engine)
        engine.dispose()
        site = root / "souq-site.conf"
        site.write_text(render_nginx([a.url.removeprefix("http://") for a in apps], f"127.0.0.1:{proxy_port}"))
        cluster._nginx_conf = root / "nginx.conf"
        cluster._nginx_conf.write_text(nginx_main_config(root, site))
        cluster.start_nginx()
        stack.callback(lambda: _stop(cluster._nginx))
        (root / "cluster.json").write_text(json.dumps({"proxy": proxy, "sandbox": sandbox, "oidc": oidc,
                                                       "apps": [a.url for a in apps]}))
        yield cluster
