"""What each part of the router costs: `python -m bench.router_costs` (about 3 minutes).

Starts the bench's private users + travel stack once, then one router after another,
each with the router's own configuration and one part switched off
(`bench/router-variants.config.ts`: a Hive Gateway option or one of our plugins), and
measures the router process's CPU milliseconds per home page (a) at BENCH_CONCURRENCY
(16) connections. With BENCH_ROUTER_PROFILE=1 the full configuration of each planner is
also run under `node --cpu-prof` and its profile summarised by package (self time).
Writes bench/results-router.json.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.run import (
    HOME_QUERY,
    Stack,
    check_home,
    load_with_cpu,
    post,
)
from common import devrunner
from common.devrunner import free_port, wait_until_up
from common.settings import PROJECT_ROOT

RESULTS = Path(__file__).resolve().parent / "results-router.json"
CONFIG = Path(__file__).resolve().parent / "router-variants.config.ts"
SECONDS = float(os.environ.get("BENCH_SECONDS", "6"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "16"))
PARTS = [
    "prometheus",
    "demandControl",
    "csrfPrevention",
    "maxDepth,maxTokens",
    "upstreamTimeout",
    "propagateHeaders,clientContext",
    "limits",
    "codeErrors",
    "subgraphNames",
]
EVERYTHING = ",".join(PARTS)


def start_router(
    stack: Stack, name: str, env: dict[str, str], node_flags: tuple[str, ...] = ()
) -> str:
    port = free_port()
    full_env = {
        **stack.env,
        **devrunner.router_env(stack.settings),
        **{f"SUBGRAPH_{d.value.upper()}_URL": url for d, url in stack.subgraphs.items()},
        "ROUTER_PORT": str(port),
        "SUPERGRAPH_PATH": str(PROJECT_ROOT / "schema" / "supergraph.graphql"),
        "LOG_LEVEL": "warn",
        "ROUTER_DEDUPLICATE_INFLIGHT": "false",
        **env,
    }
    # --cpu-prof is refused in NODE_OPTIONS: it goes on node's own command line.
    argv = [*devrunner.router_command(*node_flags), "--config-path", str(CONFIG)]
    process = stack.supervisor.start(name, argv, cwd=devrunner.ROUTER_DIR, env=full_env)
    stack.pids[name] = process.pid
    wait_until_up(f"http://127.0.0.1:{port}/readiness", process, timeout=90)
    return f"http://127.0.0.1:{port}/graphql"


def stop_router(stack: Stack, name: str) -> None:
    process = next(p for n, p in stack.supervisor.children if n == name)
    process.terminate()  # SIGTERM: the gateway exits cleanly (and writes a --cpu-prof profile)
    process.wait(timeout=30)
    del stack.pids[name]


def summarise_profile(directory: Path, since_us: float) -> dict[str, float]:
    """Busy self time by package (node_modules/<package>, node internals, native, GC), in
    percent, counting only samples taken after `since_us` into the profile (the start-up
    and module loading before the load is not the router's per-request cost) and leaving
    out idle time."""
    totals: Counter[str] = Counter()
    for path in directory.glob("*.cpuprofile"):
        profile = json.loads(path.read_text())
        nodes = {node["id"]: node for node in profile["nodes"]}
        clock = 0.0
        for sample, delta in zip(profile.get("samples", []), profile.get("timeDeltas", []),
                                 strict=False):  # fmt: skip
            clock += delta
            frame = nodes[sample]["callFrame"]
            if clock < since_us or frame["functionName"] == "(idle)":
                continue
            totals[_package(frame["url"], frame["functionName"])] += delta
    whole = sum(totals.values()) or 1
    return {name: round(100 * value / whole, 1) for name, value in totals.most_common(30)}


def _package(url: str, function: str) -> str:
    if not url:
        return f"({function or 'native'})"
    if "node_modules/" in url:
        rest = url.rsplit("node_modules/", 1)[1].split("/")
        return "/".join(rest[:2]) if rest[0].startswith("@") else rest[0]
    if url.startswith("node:"):
        return "node:" + "/".join(url[5:].split("/")[:2])
    return Path(url).name


def main() -> int:
    def say(message: str) -> None:
        print(f"  router-costs: {message}", file=sys.stderr, flush=True)

    variants: list[tuple[str, dict[str, str]]] = []
    for planner in ("rust", "js"):
        variants.append((f"{planner}: as configured", {"ROUTER_QUERY_PLANNER": planner}))
        everything = {"ROUTER_QUERY_PLANNER": planner, "BENCH_ROUTER_OFF": EVERYTHING}
        variants.append((f"{planner}: all parts off", everything))
    variants += [(f"rust: {part} off", {"BENCH_ROUTER_OFF": part}) for part in PARTS]
    rows: list[dict[str, Any]] = []
    profiles: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="looklook-router-costs-") as data_dir:
        stack = Stack(Path(data_dir))
        try:
            stack.start()
            only_profile = os.environ.get("BENCH_ROUTER_VARIANTS") == "0"
            for index, (label, env) in enumerate([] if only_profile else variants):
                name = f"router{index}"
                url = start_router(stack, name, env)
                check_home(post(url, HOME_QUERY), nickname=True)
                result = load_with_cpu(stack, url, HOME_QUERY, seconds=SECONDS,
                                       concurrency=CONCURRENCY)  # fmt: skip
                cpu = result["cpu_ms_per_request"]
                row = {
                    "variant": label,
                    "rps": round(result["rps"], 1),
                    "p99_ms": round(result["p99_ms"], 1),
                    "errors": result["errors"],
                    "router_cpu_ms": cpu.get(name, 0.0),
                    "travel_cpu_ms": cpu.get("travel", 0.0),
                    "users_cpu_ms": cpu.get("users", 0.0),
                    "load": round(os.getloadavg()[0], 2),
                }
                rows.append(row)
                say(json.dumps(row))
                stop_router(stack, name)
            if os.environ.get("BENCH_ROUTER_PROFILE") == "1":
                for planner in ("rust", "js"):
                    directory = Path(data_dir) / f"profile-{planner}"
                    flags = ("--cpu-prof", f"--cpu-prof-dir={directory}")
                    env = {"ROUTER_QUERY_PLANNER": planner}
                    began = time.monotonic()
                    url = start_router(stack, f"profile-{planner}", env, flags)
                    load_with_cpu(stack, url, HOME_QUERY, seconds=SECONDS, concurrency=CONCURRENCY)
                    stop_router(stack, f"profile-{planner}")
                    # From the start of the measured load (after the warm-up) on.
                    since = (time.monotonic() - began - SECONDS) * 1e6
                    profiles[planner] = summarise_profile(directory, since)
                    say(f"profile {planner}: {json.dumps(profiles[planner])}")
        finally:
            stack.stop()
    if rows or not RESULTS.exists():
        RESULTS.write_text(json.dumps({"variants": rows, "profiles": profiles}, indent=2) + "\n")
    else:  # profiles only: keep the variants of the last full run
        previous = json.loads(RESULTS.read_text())
        RESULTS.write_text(json.dumps({**previous, "profiles": profiles}, indent=2) + "\n")
    print(f"\n  {'variant':44}{'router CPU ms/page':>20}{'rps':>8}{'p99 ms':>9}{'errors':>8}")
    for row in rows:
        print(f"  {row['variant']:44}{row['router_cpu_ms']:20.2f}{row['rps']:8.0f}"
              f"{row['p99_ms']:9.1f}{row['errors']:8d}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
