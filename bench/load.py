"""A small closed-loop HTTP/1.1 load generator: `python -m bench.load` (run as its own process).

N keep-alive connections each send the same POST back to back for a fixed time; only
requests *started* after the warm-up count. It speaks raw HTTP over asyncio streams
(uvloop when available) instead of httpx, which would need several times more CPU per
request — on a 2-core machine the client shares the CPU with the servers it measures.

Input: one JSON object on argv[1] ({url, body, seconds, warmup, concurrency,
headers?, check_errors?}). Output: one JSON object on stdout.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    first_start: float = 0.0
    last_end: float = 0.0


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, keep_alive) of one response; handles Content-Length and chunked."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    keep_alive = b"connection: close" not in lower
    marker = lower.find(b"content-length:")
    if marker >= 0:
        end = lower.index(b"\r\n", marker)
        length = int(lower[marker + 15 : end])
        return status, await reader.readexactly(length), keep_alive
    if b"transfer-encoding: chunked" in lower:
        parts: list[bytes] = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # end of (empty) trailers
                return status, b"".join(parts), keep_alive
            parts.append((await reader.readexactly(size + 2))[:-2])
    return status, await reader.read(), False  # body until close


async def worker(
    host: str,
    port: int,
    request: bytes,
    warm_until: float,
    deadline: float,
    check_errors: bool,
    stats: Stats,
) -> None:
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    while True:
        if reader is None or writer is None:
            reader, writer = await asyncio.open_connection(host, port)
        started = time.perf_counter()
        if started >= deadline:
            break
        try:
            writer.write(request)
            status, body, keep_alive = await read_response(reader)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            if started >= warm_until:
                stats.errors += 1
            writer.close()
            reader = writer = None
            continue
        ended = time.perf_counter()
        if started >= warm_until:
            stats.latencies.append(ended - started)
            stats.statuses[status] = stats.statuses.get(status, 0) + 1
            if status != 200 or (check_errors and b'"errors"' in body):
                stats.errors += 1
            stats.last_end = ended
        if not keep_alive:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(round(fraction * (len(sorted_values) - 1)), len(sorted_values) - 1)
    return sorted_values[index]


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    url = urlsplit(spec["url"])
    host, port = url.hostname or "127.0.0.1", url.port or 80
    body = spec["body"].encode()
    headers = {
        "Host": f"{host}:{port}",
        "Content-Type": "application/json",
        "Accept": "application/json",
        "Content-Length": str(len(body)),
        **spec.get("headers", {}),
    }
    request = (
        f"POST {url.path or '/'} HTTP/1.1\r\n".encode()
        + "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode()
        + b"\r\n"
        + body
    )
    stats = Stats()
    start = time.perf_counter()
    warm_until = start + float(spec["warmup"])
    deadline = warm_until + float(spec["seconds"])
    stats.first_start = warm_until
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    await asyncio.gather(
        *(
            worker(host, port, request, warm_until, deadline, spec.get("check_errors", True), stats)
            for _ in range(int(spec["concurrency"]))
        )
    )
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    elapsed = max(stats.last_end - warm_until, 1e-9)
    latencies = sorted(stats.latencies)
    client_cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (
        cpu_after.ru_stime - cpu_before.ru_stime
    )
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "errors": stats.errors,
        "statuses": {str(k): v for k, v in sorted(stats.statuses.items())},
        "duration": elapsed,
        "concurrency": int(spec["concurrency"]),
        # CPU seconds the client itself used per wall second (1.0 = one full core).
        "client_cores": client_cpu / (time.perf_counter() - start),
    }


def main() -> None:
    spec = json.loads(sys.argv[1])
    try:
        import uvloop
    except ImportError:
        print(json.dumps(asyncio.run(run(spec))))
    else:
        print(json.dumps(uvloop.run(run(spec))))


if __name__ == "__main__":
    main()
