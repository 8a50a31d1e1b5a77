"""`make bench`: start a private stack, measure the home page's scenarios, then live status.

Writes bench/results.json (every number), bench/results-live.json and bench/results.png.
`python -m bench.run live` (`make bench-live`) runs only the live-status scenario
(bench/live.py: pay → paymentStatus event); BENCH_LIVE=0 leaves it out of `make bench`.

Everything runs on free ports in a temporary data directory (embedded SQLite, the
bundled Redis) and is stopped at the end, on errors and on Ctrl-C too.
BENCH_SECONDS (default 8), BENCH_WARMUP (2), BENCH_CONCURRENCY (32) and
BENCH_CLIENT (auto | python | wrk) tune the run; see bench/README.md.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from common import devrunner, migrations
from common.devrunner import Supervisor, free_port, wait_until_up
from common.settings import PROJECT_ROOT, Domain, Settings
from common.subgraphs import app_path
from demo.seed import seed as seed_demo

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_JSON = BENCH_DIR / "results.json"
RESULTS_PNG = BENCH_DIR / "results.png"

SECONDS = float(os.environ.get("BENCH_SECONDS", "8"))
WARMUP = float(os.environ.get("BENCH_WARMUP", "2"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "32"))
CLIENT = os.environ.get("BENCH_CLIENT", "auto")
# Longer than any scenario: (e) measures cache hits only, not one refill per TTL.
CACHE_TTL_MS = os.environ.get("BENCH_CACHE_TTL_MS", "600000")
LIVE = os.environ.get("BENCH_LIVE", "1") != "0"
SCALE_SECONDS = float(os.environ.get("BENCH_SCALE_SECONDS", "5"))
SCALE_CONCURRENCY = (1, 8, 32, 128)
FLOOR_PAGES = int(os.environ.get("BENCH_FLOOR_PAGES", "400"))
DOMAINS = (Domain.USERS, Domain.TRAVEL)

HOME_QUERY = (
    "query Home { preferredHomestays(first: 20) { edges { node { id title homestayPrice "
    "business { title } landlord { nickname } comments(first: 3) { edges { node { content star } "
    "} } } } } }"
)
# The same page from the travel subgraph alone: the landlord's nickname lives in users.
HOME_QUERY_TRAVEL = HOME_QUERY.replace("landlord { nickname }", "landlord { id }")
TYPENAME_QUERY = "{ __typename }"

TARGETS = {"a/b": 0.9, "e/a": 10.0, "cpu a/e": 10.0}
# Upper bounds: CPU ratios, lower is better.
CEILINGS = {"cpu b/f": 1.5}
SCENARIOS = {
    "a": "home page through the router, Rust planner (no cache, no dedup)",
    "b": "home page from the travel subgraph directly (landlord { id })",
    "c": "bare uvicorn ASGI app, constant body of (b)'s size (Python ceiling)",
    "d": "{ __typename } on the travel subgraph (framework ceiling)",
    "e": "(a) anonymous, response cache on",
    "f": "home page executed in-process over in-memory records (the floor)",
    "g": "(a) with the JS query planner (ROUTER_QUERY_PLANNER=js)",
}
# The router process serving each router scenario (the CPU table's router column).
ROUTER_OF = {"a": "router-nocache", "e": "router-cache", "g": "router-js"}
# Scenarios measured in-process rather than over HTTP (no rps of a server).
IN_PROCESS = {"f"}


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


# --------------------------------------------------------------------------- data


def seed(settings: Settings) -> str:
    """The demo catalog of `looklook seed`: 300 homestays, 40 on the preferred list."""
    return str(seed_demo(settings, progress=False))


# --------------------------------------------------------------------------- stack


class Stack:
    def __init__(self, data_dir: Path) -> None:
        self.supervisor = Supervisor()
        redis_port = free_port()
        # BENCH_DATABASE_URL (a MySQL/MariaDB server URL) measures on a real server, in
        # fresh `looklook_bench_<domain>` databases; without it, embedded SQLite files.
        server = os.environ.get("BENCH_DATABASE_URL")
        urls = migrations.fresh_databases(server, "looklook_bench") if server else {}
        self.database = "MariaDB/MySQL" if server else "SQLite"
        self.settings = Settings(
            data_dir=data_dir,
            redis_url=f"redis://127.0.0.1:{redis_port}/0",
            log_level="WARNING",
            host="127.0.0.1",
            users_database_url=urls.get(Domain.USERS, ""),
            travel_database_url=urls.get(Domain.TRAVEL, ""),
        )
        self.env = {
            "ENV": "development",
            "DATA_DIR": str(data_dir),
            "REDIS_URL": self.settings.redis_url,
            "BROKER_URL": "",
            "LOG_LEVEL": "WARNING",
            "OTEL_EXPORTER": "none",
            **{f"{d.value.upper()}_DATABASE_URL": urls.get(d, "") for d in Domain},
        }
        self.subgraphs: dict[Domain, str] = {}
        # Server processes by name, for their CPU time per request.
        self.pids: dict[str, int] = {}

    def uvicorn(self, name: str, app: str, env: dict[str, str] | None = None) -> str:
        port = free_port()
        argv = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
                "--workers", "1", "--no-access-log", "--log-level", "warning"]  # fmt: skip
        process = self.supervisor.start(name, argv, env={**self.env, **(env or {})})
        self.pids[name] = process.pid
        base = f"http://127.0.0.1:{port}"
        wait_until_up(f"{base}/healthz" if name in self.env_domains() else base, process)
        return base

    @staticmethod
    def env_domains() -> set[str]:
        return {d.value for d in DOMAINS}

    def start(self) -> str:
        devrunner.start_embedded_redis(self.supervisor, self.settings)
        for domain in DOMAINS:
            migrations.upgrade(domain, self.settings.database_url(domain))
        source = seed(self.settings)
        for domain in DOMAINS:
            self.subgraphs[domain] = self.uvicorn(domain.value, app_path(domain)) + "/graphql"
            self.env[f"{domain.value.upper()}_INTERNAL_URL"] = self.subgraphs[domain]
        return source

    def router(
        self, name: str, cache_ttl_ms: str, *, deduplicate: bool = True, planner: str = "rust"
    ) -> str:
        port = free_port()
        env = {
            **self.env,
            **devrunner.router_env(self.settings),
            **{f"SUBGRAPH_{d.value.upper()}_URL": url for d, url in self.subgraphs.items()},
            "ROUTER_PORT": str(port),
            "SUPERGRAPH_PATH": str(PROJECT_ROOT / "schema" / "supergraph.graphql"),
            "LOG_LEVEL": "warn",
            "ROUTER_RESPONSE_CACHE_TTL_MS": cache_ttl_ms,
            "ROUTER_DEDUPLICATE_INFLIGHT": "true" if deduplicate else "false",
            "ROUTER_QUERY_PLANNER": planner,
        }
        process = self.supervisor.start(
            name, devrunner.router_command(), cwd=devrunner.ROUTER_DIR, env=env
        )
        self.pids[name] = process.pid
        wait_until_up(f"http://127.0.0.1:{port}/readiness", process, timeout=90)
        return f"http://127.0.0.1:{port}/graphql"

    def stop(self) -> None:
        self.supervisor.stop_all()


# --------------------------------------------------------------------------- checks


def post(url: str, query: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = httpx.post(url, json={"query": query}, headers=headers, timeout=10)
    if response.status_code != 200:
        raise AssertionError(f"{url}: HTTP {response.status_code}: {response.text[:300]}")
    body: dict[str, Any] = response.json()
    if body.get("errors"):
        raise AssertionError(f"{url}: errors: {json.dumps(body['errors'])[:500]}")
    return body


def check_home(body: dict[str, Any], *, nickname: bool) -> None:
    edges = body["data"]["preferredHomestays"]["edges"]
    assert len(edges) == 20, f"expected 20 preferred homestays, got {len(edges)}"
    for edge in edges:
        node = edge["node"]
        assert node["id"] and node["title"] and isinstance(node["homestayPrice"], int), node
        assert node["business"]["title"], node
        if nickname:
            assert isinstance(node["landlord"]["nickname"], str), node
        else:
            assert node["landlord"]["id"], node
        assert isinstance(node["comments"]["edges"], list), node
    assert any(e["node"]["comments"]["edges"] for e in edges), "no comments on the home page"


def check_private_data_not_shared(router: str) -> str:
    """With the cache on, `me` must answer each token with its own user, never a cached one."""
    mutation = (
        'mutation { register(input: {mobile: "%s", password: "bench-password-1", '
        'nickname: "%s"}) { accessToken user { id } } }'
    )
    ids, tokens = [], []
    for n in (1, 2):
        payload = post(router, mutation % (f"199{n:08d}", f"bench{n}"))["data"]["register"]
        ids.append(payload["user"]["id"])
        tokens.append(payload["accessToken"])
    for _ in range(2):  # the second round would be served from a cache if there were one
        for user_id, token in zip(ids, tokens, strict=True):
            me = post(router, "{ me { id } }", {"Authorization": f"Bearer {token}"})
            assert me["data"]["me"]["id"] == user_id, f"`me` leaked across tokens: {me}"
    anonymous = post(router, "{ me { id } }")
    assert anonymous["data"]["me"] is None, f"anonymous `me` was served a user: {anonymous}"
    return "ok: `me` answered per token twice, null when anonymous"


# --------------------------------------------------------------------------- load


def load_python(
    url: str, body: str, check_errors: bool, *, seconds: float, warmup: float, concurrency: int
) -> dict[str, Any]:
    spec = {"url": url, "body": body, "seconds": seconds, "warmup": warmup,
            "concurrency": concurrency, "check_errors": check_errors}  # fmt: skip
    output = subprocess.run(  # noqa: S603 - our own module
        [sys.executable, "-m", "bench.load", json.dumps(spec)],
        cwd=PROJECT_ROOT, check=True, capture_output=True, text=True,
        timeout=seconds + warmup + 60,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(output.stdout)
    result["client"] = "python (bench/load.py)"
    return result


_WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("BENCH_BODY")
local non200, errored = 0, 0
response = function(status, headers, body)
  if status ~= 200 then non200 = non200 + 1
  elseif string.find(body, '"errors"', 1, true) then errored = errored + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format('BENCH {"requests": %d, "duration_us": %d, "p50_us": %d, '
    .. '"p99_us": %d, "socket_errors": %d, "non2xx": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
"""


def load_wrk(
    wrk: str, url: str, body: str, *, seconds: float, warmup: float, concurrency: int
) -> dict[str, Any]:
    """wrk when installed. Its Lua state is per thread, so `errors` is transport + non-2xx."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_SCRIPT)
    try:
        if warmup > 0:
            subprocess.run([wrk, "-t1", f"-c{concurrency}", f"-d{int(max(warmup, 1))}s",  # noqa: S603
                            "-s", script.name, url], env={**os.environ, "BENCH_BODY": body},
                           check=True, capture_output=True)  # fmt: skip
        output = subprocess.run(  # noqa: S603
            [wrk, "-t2", f"-c{concurrency}", f"-d{int(seconds)}s", "-s", script.name, url],
            env={**os.environ, "BENCH_BODY": body}, check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
    finally:
        os.unlink(script.name)
    line = next(line for line in output.splitlines() if line.startswith("BENCH "))
    raw = json.loads(line[len("BENCH ") :])
    duration = raw["duration_us"] / 1e6
    return {
        "requests": raw["requests"],
        "rps": raw["requests"] / duration,
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "errors": raw["socket_errors"] + raw["non2xx"],
        "duration": duration,
        "concurrency": concurrency,
        "client": "wrk",
    }


def load(
    url: str,
    query: str | None,
    raw_body: str | None = None,
    *,
    seconds: float = SECONDS,
    warmup: float = WARMUP,
    concurrency: int = CONCURRENCY,
) -> dict[str, Any]:
    body = raw_body if raw_body is not None else json.dumps({"query": query})
    wrk = shutil.which("wrk") if CLIENT in ("auto", "wrk") else None
    if CLIENT == "wrk" and wrk is None:
        raise RuntimeError("BENCH_CLIENT=wrk but wrk is not installed")
    if wrk is not None:
        return load_wrk(wrk, url, body, seconds=seconds, warmup=warmup, concurrency=concurrency)
    return load_python(url, body, query is not None, seconds=seconds, warmup=warmup,
                       concurrency=concurrency)  # fmt: skip


def load_with_cpu(
    stack: Stack, url: str, query: str | None, raw_body: str | None = None, **timing: Any
) -> dict[str, Any]:
    """`load` after a separate warm-up, with each server's CPU milliseconds per request.

    CPU time is the process's own (user + system, from /proc), so other load on a
    shared machine slows the requests down but does not inflate the per-request cost.
    """
    warmup = timing.pop("warmup", WARMUP)
    if warmup > 0:
        load(url, query, raw_body, **{**timing, "seconds": warmup, "warmup": 0})
    before = {name: cpu_seconds(pid) for name, pid in stack.pids.items()}
    result = load(url, query, raw_body, **timing, warmup=0)
    used = {name: cpu_seconds(pid) - before[name] for name, pid in stack.pids.items()}
    requests = max(result["requests"], 1)
    result["cpu_ms_per_request"] = {
        name: round(seconds * 1000 / requests, 3) for name, seconds in used.items() if seconds
    }
    return result


# --------------------------------------------------------------------------- report


def ratio(results: dict[str, dict[str, Any]], top: str, bottom: str) -> float:
    denominator = results[bottom]["rps"]
    return results[top]["rps"] / denominator if denominator else 0.0


def server_cpu(result: dict[str, Any]) -> float:
    """CPU ms per request of every server process together (travel, users, the routers)."""
    cpu: dict[str, float] = result.get("cpu_ms_per_request", {})
    return sum(value for name, value in cpu.items() if name != "ceiling")


def cpu_ratio(results: dict[str, dict[str, Any]], top: str, bottom: str) -> float:
    """Travel's CPU per page in `top` against `bottom` (lower is better)."""
    denominator = results[bottom]["cpu_ms_per_request"].get("travel", 0.0)
    numerator: float = results[top]["cpu_ms_per_request"].get("travel", 0.0)
    return numerator / denominator if denominator else 0.0


def _cpu(result: dict[str, Any], process: str) -> str:
    value = result.get("cpu_ms_per_request", {}).get(process)
    return f"{value:8.2f}" if value is not None else f"{'':8}"


def print_table(report: dict[str, Any]) -> None:
    print(f"\n  {'':3}{'scenario':70}{'rps':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
          f"   CPU ms/request: {'travel':>8}{'users':>8}{'router':>8}")  # fmt: skip
    for key, result in report["scenarios"].items():
        cpu = result.get("cpu_ms_per_request", {})
        router = cpu.get(ROUTER_OF.get(key, "router-nocache"))
        rps = f"{result['rps']:9.0f}" if "rps" in result else f"{'':9}"
        p50 = f"{result['p50_ms']:9.1f}" if "p50_ms" in result else f"{'':9}"
        p99 = f"{result['p99_ms']:9.1f}" if "p99_ms" in result else f"{'':9}"
        errors = f"{result['errors']:8d}" if "errors" in result else f"{'':8}"
        print(
            f"  ({key}) {SCENARIOS[key]:68}{rps}{p50}{p99}{errors}{'':19}"
            f"{_cpu(result, 'travel')}{_cpu(result, 'users')}"
            + (f"{router:8.2f}" if router is not None else "")
        )
    print("\n  router home page (a) by connections:")
    print(f"  {'connections':>13}{'rps':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for row in report["scale"]:
        print(f"  {row['concurrency']:13d}{row['rps']:9.0f}{row['p50_ms']:9.1f}"
              f"{row['p99_ms']:9.1f}{row['errors']:8d}")  # fmt: skip
    print()
    for name, value in report["ratios"].items():
        verdict = ""
        if (target := TARGETS.get(name)) is not None:
            verdict = f"target >= {target:g}: {'met' if value >= target else 'NOT met'}"
        elif (ceiling := CEILINGS.get(name)) is not None:
            verdict = f"target <= {ceiling:g}: {'met' if value <= ceiling else 'NOT met'}"
        print(f"  ({name}) = {value:6.2f}   {verdict}")
    if (report.get("live") or {}).get("error"):
        print(f"\n  live status: FAILED: {report['live']['error']}")
    elif report.get("live"):
        from bench.live import summary

        print(f"\n  live status (bench/live.py): {summary(report['live'])}")
    print(f"\n  {report['caveat']}")
    load = report["load_average"]
    print(f"  load average (1 min) at start {load[0]:.1f}, at end {load[1]:.1f}; "
          f"{report['settings']['cpus']} CPUs; {report['wall_seconds']:.0f} s")  # fmt: skip
    results = RESULTS_JSON.relative_to(PROJECT_ROOT)
    print(f"  database: {report['database']}; client: {report['client']}; "
          f"results: {results}, chart: {report['chart']}\n")  # fmt: skip


def write_chart(report: dict[str, Any]) -> str:
    """bench/results.png: CPU per page, the scale table and the live-status latency."""
    from bench.chart import write

    write(RESULTS_PNG, report)
    return str(RESULTS_PNG.relative_to(PROJECT_ROOT))


# --------------------------------------------------------------------------- main


def measure(stack: Stack, say: Callable[[str], None]) -> dict[str, Any]:
    routers = {
        # Every request of (a) reaches the subgraphs: with the gateway's in-flight
        # deduplication, 32 clients sending one query would cost travel a fraction of it.
        # (a) and (e): the Rust planner (the router's default, the lighter router);
        # (g): the JS planner (ROUTER_QUERY_PLANNER=js), so both are measured in one run.
        "a": stack.router("router-nocache", "0", deduplicate=False, planner="rust"),
        "e": stack.router("router-cache", CACHE_TTL_MS, planner="rust"),
        "g": stack.router("router-js", "0", deduplicate=False, planner="js"),
    }
    travel = stack.subgraphs[Domain.TRAVEL]

    say("verifying every scenario's response once")
    home_a = post(routers["a"], HOME_QUERY)
    check_home(home_a, nickname=True)
    assert post(routers["g"], HOME_QUERY) == home_a, "the JS planner's page differs from Rust's"
    home_b = httpx.post(travel, json={"query": HOME_QUERY_TRAVEL}, timeout=10)
    check_home(post(travel, HOME_QUERY_TRAVEL), nickname=False)
    body_bytes = len(home_b.content)
    assert post(travel, TYPENAME_QUERY)["data"]["__typename"] == "Query"
    ceiling = stack.uvicorn("ceiling", "bench.ceiling:app", {"BENCH_BODY_BYTES": str(body_bytes)})
    ceiling_response = httpx.post(ceiling, content=b"{}", timeout=10)
    assert ceiling_response.status_code == 200 and len(ceiling_response.content) == body_bytes
    for _ in range(2):  # fill, then hit the cache
        home_e = post(routers["e"], HOME_QUERY)
        check_home(home_e, nickname=True)
        assert home_e["data"] == home_a["data"], "cached home page differs from the uncached one"
    privacy = check_private_data_not_shared(routers["e"])
    say(f"private data check on the caching router: {privacy}")

    plan = {
        "a": (routers["a"], HOME_QUERY, None),
        "b": (travel, HOME_QUERY_TRAVEL, None),
        "c": (ceiling, None, "{}"),
        "d": (travel, TYPENAME_QUERY, None),
        "e": (routers["e"], HOME_QUERY, None),
        "g": (routers["g"], HOME_QUERY, None),
    }
    results: dict[str, dict[str, Any]] = {}
    for key, (url, query, raw_body) in plan.items():
        say(f"({key}) {SCENARIOS[key]}: {WARMUP:g}s warm-up + {SECONDS:g}s at c={CONCURRENCY}")
        results[key] = {
            "description": SCENARIOS[key],
            "url": url,
            **load_with_cpu(stack, url, query, raw_body),
        }
        say(f"    {results[key]['rps']:.0f} rps, p50 {results[key]['p50_ms']:.1f} ms, "
            f"p99 {results[key]['p99_ms']:.1f} ms, errors {results[key]['errors']}, "
            f"cpu ms/request {results[key]['cpu_ms_per_request']}")  # fmt: skip
        if key == "b":  # right after (b): the machine's other load is likeliest the same
            say(f"(f) {SCENARIOS['f']}: {FLOOR_PAGES} pages")
            results["f"] = {"description": SCENARIOS["f"], **floor(stack)}
            say(f"    {results['f']['cpu_ms_per_request']['travel']:.2f} ms of CPU per page")
    results = {key: results[key] for key in sorted(results)}
    scale = measure_scale(stack, routers["a"], say)
    ratios = {
        "a/b": ratio(results, "a", "b"),
        "b/d": ratio(results, "b", "d"),
        "g/b": ratio(results, "g", "b"),
        "e/a": ratio(results, "e", "a"),
        # The same in server CPU per page: what a cached page saves, whatever the client.
        "cpu a/e": server_cpu(results["a"]) / (server_cpu(results["e"]) or 1.0),
        "d/c": ratio(results, "d", "c"),
        "cpu b/f": cpu_ratio(results, "b", "f"),
    }
    return {
        "scenarios": results,
        "ratios": ratios,
        "scale": scale,
        "targets": TARGETS,
        "home_response_bytes": body_bytes,
        "private_data_check": privacy,
        "client": results["a"]["client"],
        "database": stack.database,
    }


def floor(stack: Stack) -> dict[str, Any]:
    """Scenario (f), in its own process: `bench.floor` on the bench's travel database."""
    output = subprocess.run(  # noqa: S603 - our own module
        [sys.executable, "-m", "bench.floor", str(FLOOR_PAGES)],
        cwd=PROJECT_ROOT, env={**os.environ, **stack.env}, check=True, capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(output.stdout)
    return result


def measure_scale(stack: Stack, router: str, say: Callable[[str], None]) -> list[dict[str, Any]]:
    """The router's home page (a) at growing numbers of connections: rps and p99."""
    rows = []
    for connections in SCALE_CONCURRENCY:
        result = load_with_cpu(
            stack, router, HOME_QUERY, seconds=SCALE_SECONDS, warmup=1.0, concurrency=connections
        )
        rows.append({key: result[key] for key in ("concurrency", "rps", "p50_ms", "p99_ms",
                                                  "errors", "cpu_ms_per_request")})  # fmt: skip
        say(f"    scale c={connections}: {result['rps']:.0f} rps, p99 {result['p99_ms']:.1f} ms")
    return rows


def main() -> int:
    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    # Explicitly: a shell starting us in the background would have SIGINT ignored.
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)

    def say(message: str) -> None:
        print(f"  bench: {message}", file=sys.stderr, flush=True)

    started = time.monotonic()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="looklook-bench-") as data_dir:
        stack = Stack(Path(data_dir))
        try:
            say(f"starting redis, users and travel subgraphs in {data_dir}")
            source = stack.start()
            say(f"seeded with {source}")
            report = measure(stack, say)
        except KeyboardInterrupt:
            say("interrupted")
            return 130
        finally:
            say("stopping the stack")
            stack.stop()
    live: dict[str, Any] | None = None
    if LIVE:
        from bench.live import run as run_live

        try:
            live = run_live(lambda message: say(f"live: {message}"))
        except KeyboardInterrupt:
            say("interrupted")
            return 130
        except Exception as error:  # keep the home page's numbers; the failure is reported
            say(f"live status failed: {error!r}")
            live = {"error": repr(error)}
    report.update(
        {
            "seed": source,
            "settings": {
                "seconds": SECONDS,
                "warmup": WARMUP,
                "concurrency": CONCURRENCY,
                "cache_ttl_ms": int(CACHE_TTL_MS),
                "cpus": os.cpu_count(),
            },
            "caveat": (
                "The load generator runs on the same machine and shares its "
                f"{os.cpu_count()} cores with the servers; client CPU use is in each "
                "scenario's client_cores (1.0 = one core). Numbers are relative, not capacity."
            ),
            "wall_seconds": round(time.monotonic() - started, 1),
            # The machine's 1-minute load average when the run started and ended: other
            # work on a shared machine slows requests down (rps), much less CPU per page.
            "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "live": live,
        }
    )
    report["chart"] = write_chart(report)
    RESULTS_JSON.write_text(json.dumps(report, indent=2) + "\n")
    print_table(report)
    return 1 if (live or {}).get("error") else 0


if __name__ == "__main__":
    if sys.argv[1:] == ["live"]:
        from bench.live import main as live_main

        raise SystemExit(live_main())
    raise SystemExit(main())
