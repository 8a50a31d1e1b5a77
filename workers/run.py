"""`looklook worker`: run the Dramatiq worker for every actor.

The Dramatiq master runs as a child in its own process group and receives one
SIGTERM from us. Signalling its whole group instead (as a supervisor's
`killpg` would) reaches each worker process twice, once directly and once
forwarded by the master, and Dramatiq treats a second SIGTERM as "kill now",
abandoning the message in flight. One forwarded signal means: stop taking
messages, finish the current ones (up to the time limit), exit.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys

from common.logs import configure_logging
from common.settings import PROJECT_ROOT, Settings
from workers.broker import TIME_LIMIT_MS, prometheus_defaults

SERVICE = "worker"
WORKER_BOOT_TIMEOUT_MS = 10 * 60_000
_PR_SET_PDEATHSIG = 1
# Dramatiq's idle poll: a consumer with nothing to do sleeps up to this long between
# fetches (its "worker timeout", 1 s by default), which is most of a message's latency.
IDLE_POLL_ENV = "dramatiq_worker_timeout"
# prometheus_client's multiprocess mode, on before any worker process imports it.
PROMETHEUS_MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def dramatiq_argv(processes: int, threads: int) -> list[str]:
    return [
        sys.executable, "-m", "dramatiq", "workers.actors",
        "--processes", str(processes),
        "--threads", str(threads),
        "--path", str(PROJECT_ROOT),
        "--skip-logging",  # workers.actors installs our JSON logging in each worker process
        # Enough for a message that started just before shutdown to reach its time limit.
        "--worker-shutdown-timeout", str(TIME_LIMIT_MS + 5_000),
        # The master starts the metrics exposition server only after the worker processes
        # have booted, and not at all if that took longer than this (Dramatiq's default,
        # 30 s, is less than a cold boot on a busy machine): wait as long as a boot takes.
        "--worker-fork-timeout", str(WORKER_BOOT_TIMEOUT_MS),
    ]  # fmt: skip


def _own_group_dying_with_parent() -> None:
    """In the child: leave our process group, and get SIGTERM if we are SIGKILLed."""
    os.setpgrp()
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def run_worker(settings: Settings, *, processes: int = 1, threads: int = 4) -> int:
    configure_logging(SERVICE, settings)
    # Prometheus multiprocess files of earlier runs would be summed into this run's metrics.
    metrics_dir = prometheus_defaults(settings)
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        IDLE_POLL_ENV: str(settings.worker_idle_poll_ms),
        PROMETHEUS_MULTIPROC_ENV: str(metrics_dir),
    }
    child = subprocess.Popen(  # noqa: S603 - argv is ours
        dramatiq_argv(processes, threads),
        cwd=PROJECT_ROOT,
        env=env,
        preexec_fn=_own_group_dying_with_parent,  # no threads yet: safe
    )

    forwarded = False

    def forward(_signum: int, _frame: object) -> None:
        # Once only: a repeated signal reaching Dramatiq's workers would abandon their messages.
        nonlocal forwarded
        if not forwarded and child.poll() is None:
            forwarded = True
            child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    return child.wait()
