"""Background jobs on the real database and Redis: the close actor, the outbox relay,
a real Dramatiq worker process, the sweeper and the stay finisher."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path

import dramatiq
import httpx
import pytest
import redis
from sqlalchemy import func, select

from common.clock import china_today
from common.db import Database
from common.devrunner import free_port
from common.events import CLOSE_UNPAID_ORDER, ORDERS_QUEUE
from common.ids import SnPrefix, make_sn
from common.outbox import relay
from common.settings import PROJECT_ROOT, Domain, Settings
from subgraphs.orders.models import OutboxMessage, TradeState
from subgraphs.orders.payments import PaymentsClient
from subgraphs.orders.service import close_overdue_orders, finish_stays
from tests.support.broker import Whereabouts, whereabouts
from tests.support.orders import place_order, state_of
from tests.support.stack import Stack
from workers.broker import create_broker

# Only a stuck run waits this long: Dramatiq's own retries of a failing close (5, backoff
# 1 s → 60 s, each run at most 60 s) end well within it.
HANG_GUARD_SECONDS = 300.0
WORKER_BOOT_SECONDS = 180.0  # bounds a hung boot only: a worker that exits fails at once
HEARTBEATS = "dramatiq:__heartbeats__"


@pytest.fixture
async def orders_db(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings.database_url(Domain.ORDERS))
    yield db
    await db.dispose()


@pytest.fixture
def broker(settings: Settings) -> Iterator[dramatiq.Broker]:
    live = create_broker(settings.redis_url)
    yield live
    live.close()


@pytest.fixture(scope="module")
def worker(
    backend_env: dict[str, str], tmp_root: Path, payments_url: str
) -> Iterator[subprocess.Popen[bytes]]:
    """A real `looklook worker` on the test backends, stopped with SIGTERM like in production.

    Its close job asks the real payments subgraph before cancelling an order.
    """
    env = {
        **os.environ,
        **backend_env,
        "PAYMENTS_INTERNAL_URL": payments_url,
        "dramatiq_prom_port": str(free_port()),
        "dramatiq_prom_db": str(tmp_root / "dramatiq-prometheus"),
    }
    client = redis.Redis.from_url(backend_env["REDIS_URL"])
    earlier = set(client.zrange(HEARTBEATS, 0, -1))  # workers of earlier tests linger there
    process = subprocess.Popen(
        [sys.executable, "-m", "common.cli", "worker", "--threads", "2"],
        cwd=PROJECT_ROOT,
        env=env,
    )
    # A worker that polls a queue has a heartbeat in Redis: wait for it (imports are slow).
    deadline = time.monotonic() + WORKER_BOOT_SECONDS
    try:
        while not set(client.zrange(HEARTBEATS, 0, -1)) - earlier:
            assert process.poll() is None, "the worker exited"
            assert time.monotonic() < deadline, "the worker did not start"
            time.sleep(0.1)
    except BaseException:  # never leave a worker behind to take later tests' messages
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        raise
    finally:
        client.close()
    yield process
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0


def test_worker_metrics_list_every_actor_before_any_message(
    backend_env: dict[str, str], tmp_root: Path
) -> None:
    """Dashboards and alerts need the series from start, not after the first message."""
    from workers.actors import broker as actors_broker

    port = free_port()
    env = {
        **os.environ,
        **backend_env,
        "dramatiq_prom_port": str(port),
        "dramatiq_prom_db": str(tmp_root / "dramatiq-prometheus-fresh"),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "common.cli", "worker", "--threads", "1"],
        cwd=PROJECT_ROOT,
        env=env,
    )
    try:
        # A generous bound: a cold boot on a loaded machine takes well over 30 s.
        deadline = time.monotonic() + 6 * WORKER_BOOT_SECONDS
        text = ""
        while "dramatiq_messages_total{" not in text:
            assert process.poll() is None, "the worker exited"
            assert time.monotonic() < deadline, f"no worker series: {text[:500]}"
            time.sleep(0.2)
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/", timeout=2).text
            except httpx.HTTPError:
                continue
        for actor_name in actors_broker.get_declared_actors():
            assert f'actor_name="{actor_name}"' in text, actor_name
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


async def message_of(db: Database, sn: str) -> OutboxMessage:
    async with db.session() as session:
        message = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.payload.contains(sn))
        )
    assert message is not None
    return message


async def relay_until_sent(db: Database, broker: dramatiq.Broker, sn: str) -> int:
    """Relay rounds until our row is out (other tests' rows may be ahead of it)."""
    total = 0
    for _ in range(20):
        total += await relay(db, OutboxMessage, broker)
        if (await message_of(db, sn)).sent_at is not None:
            return total
    raise AssertionError("the relay never sent the message")


async def wait_for_state(
    db: Database, sn: str, state: TradeState, broker: dramatiq.Broker | None = None
) -> float:
    """Seconds until the order reaches `state`, waiting on the worker rather than a clock.

    With the Redis broker, the verdict comes when the worker has acknowledged the
    order's close message (its effects are committed by then): the order must be in
    `state`. However late a busy machine runs it, the test waits; a message handled
    without effect fails at once. Without a broker to inspect (RabbitMQ), the order's
    state alone is awaited. HANG_GUARD_SECONDS only bounds a stuck run.
    """
    started = time.monotonic()
    while (current := await state_of(db, sn)) != state:
        if broker is not None:
            where = whereabouts(broker, CLOSE_UNPAID_ORDER, sn)
            assert where is not Whereabouts.DEAD, f"the close message of {sn} was dead-lettered"
            if where is Whereabouts.DONE and (current := await state_of(db, sn)) != state:
                raise AssertionError(
                    f"the worker handled the close message of {sn}, "
                    f"yet the order is {TradeState(current).name}, not {state.name}"
                )
        elapsed = time.monotonic() - started
        assert elapsed < HANG_GUARD_SECONDS, f"order {sn} still {TradeState(current).name}"
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def test_close_actor_cancels_once_and_is_safe_to_rerun(
    orders_db: Database, payments_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from common.settings import get_settings
    from subgraphs.orders.service import CloseOutcome
    from workers.orders import close_unpaid
    from workers.resources import dispose

    monkeypatch.setenv("PAYMENTS_INTERNAL_URL", payments_url)
    get_settings.cache_clear()

    unpaid = await place_order(orders_db, pay_in_seconds=-1, with_message=False)
    paid = await place_order(
        orders_db, pay_in_seconds=-1, state=TradeState.WAIT_USE, with_message=False
    )
    not_due = await place_order(orders_db, pay_in_seconds=60, with_message=False)
    try:
        assert await close_unpaid(unpaid) is CloseOutcome.CANCELLED
        # the second delivery changes nothing
        assert await close_unpaid(unpaid) is CloseOutcome.NOTHING
        assert await close_unpaid(paid) is CloseOutcome.NOTHING
        assert await close_unpaid(not_due) is CloseOutcome.NOTHING
        assert await close_unpaid("no-such-order") is CloseOutcome.NOTHING
    finally:
        await dispose()
        monkeypatch.delenv("PAYMENTS_INTERNAL_URL")
        get_settings.cache_clear()
    assert await state_of(orders_db, unpaid) == TradeState.CANCELLED
    assert await state_of(orders_db, paid) == TradeState.WAIT_USE
    assert await state_of(orders_db, not_due) == TradeState.WAIT_PAY


async def test_unpaid_order_closes_after_its_timeout_through_a_real_worker(
    orders_db: Database, broker: dramatiq.Broker, worker: subprocess.Popen[bytes]
) -> None:
    timeout = 2.0
    placed = time.monotonic()
    sn = await place_order(orders_db, pay_in_seconds=timeout)
    assert await relay_until_sent(orders_db, broker, sn) >= 1
    assert await state_of(orders_db, sn) == TradeState.WAIT_PAY
    elapsed = await wait_for_state(orders_db, sn, TradeState.CANCELLED, broker)
    assert worker.poll() is None
    print(f"closed {elapsed:.2f}s after relay (pay timeout {timeout}s)")
    # Not before its deadline, which runs from the order's creation (the relay came later).
    assert time.monotonic() - placed >= timeout - 0.5


async def test_order_made_while_the_broker_is_down_still_closes(
    orders_db: Database, broker: dramatiq.Broker, worker: subprocess.Popen[bytes]
) -> None:
    sn = await place_order(orders_db, pay_in_seconds=1)
    async with orders_db.session() as session:
        first_unsent = await session.scalar(
            select(func.min(OutboxMessage.id)).where(
                OutboxMessage.sent_at.is_(None), OutboxMessage.parked_at.is_(None)
            )
        )
    dead = create_broker(f"redis://127.0.0.1:{free_port()}/0")
    try:
        assert await relay(orders_db, OutboxMessage, dead) == 0
    finally:
        dead.close()
    mine = await message_of(orders_db, sn)
    assert mine.sent_at is None
    async with orders_db.session() as session:
        head = await session.get(OutboxMessage, first_unsent)
    assert head is not None and head.sent_at is None and head.attempts == 1

    assert await relay_until_sent(orders_db, broker, sn) >= 1  # the broker is back
    elapsed = await wait_for_state(orders_db, sn, TradeState.CANCELLED, broker)
    print(f"closed {elapsed:.2f}s after the late relay (pay timeout 1s)")


async def test_sweeper_closes_overdue_orders_whose_message_was_lost(
    orders_db: Database, payments_gate: PaymentsClient
) -> None:
    lost = await place_order(orders_db, pay_in_seconds=-5, with_message=False)
    pending = await place_order(orders_db, pay_in_seconds=60, with_message=False)
    assert lost in await close_overdue_orders(orders_db, payments_gate)
    assert await state_of(orders_db, lost) == TradeState.CANCELLED
    assert await state_of(orders_db, pending) == TradeState.WAIT_PAY
    assert lost not in await close_overdue_orders(orders_db, payments_gate)


async def test_finish_stays_marks_checked_out_orders_used(orders_db: Database) -> None:
    today = china_today()
    done = await place_order(
        orders_db,
        pay_in_seconds=-1,
        state=TradeState.WAIT_USE,
        live_end_date=today - timedelta(days=1),
        with_message=False,
    )
    future = await place_order(
        orders_db,
        pay_in_seconds=-1,
        state=TradeState.WAIT_USE,
        live_end_date=today + timedelta(days=3),
        with_message=False,
    )
    assert await finish_stays(orders_db) >= 1
    assert await state_of(orders_db, done) == TradeState.USED
    assert await state_of(orders_db, future) == TradeState.WAIT_USE


async def test_a_job_slot_runs_once_across_scheduler_replicas(settings: Settings) -> None:
    from common.redis import create_redis
    from workers.scheduler import Job, JobRunner

    runs: list[int] = []

    async def job() -> None:
        runs.append(1)

    redis = create_redis(settings.redis_url)
    try:
        replica_a, replica_b = JobRunner(redis), JobRunner(redis)
        slot_job = Job(f"test.once.{make_sn(SnPrefix.HOMESTAY_ORDER)}", 3600, job)
        await replica_a.run(slot_job)
        await replica_b.run(slot_job)
        assert runs == [1]
        run_job = Job("test.serial", 1, job, per_slot=False)
        await replica_a.run(run_job)
        await replica_b.run(run_job)  # the run lock is released after each run
        assert runs == [1, 1, 1]
    finally:
        await redis.aclose()


async def _log_of_runs(
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
    name: str,
    *runs: Callable[[], Awaitable[object]],
) -> list[logging.LogRecord]:
    """Runs each function as job `name` once, in order; the scheduler's records about it."""
    from common.redis import create_redis
    from workers.scheduler import Job, JobRunner

    redis = create_redis(settings.redis_url)
    try:
        runner = JobRunner(redis)
        with caplog.at_level(logging.DEBUG, logger="workers.scheduler"):
            for run in runs:
                await runner.run(Job(name, 1, run, per_slot=False))
    finally:
        await redis.aclose()
    return [r for r in caplog.records if name in r.getMessage()]


async def test_idle_jobs_log_at_debug_and_busy_ones_at_info(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """An idle sweep every minute was a quarter of all `make dev` lines; work done still shows."""
    results: list[list[str]] = [[], ["HSO1"]]

    async def job() -> list[str]:
        return results.pop(0)

    name = f"test.idle.{make_sn(SnPrefix.HOMESTAY_ORDER)}"
    records = await _log_of_runs(settings, caplog, name, job, job)
    done = [(r.levelno, r.getMessage()) for r in records]
    assert done == [(logging.DEBUG, f"{name} done: []"), (logging.INFO, f"{name} done: ['HSO1']")]


async def test_a_job_whose_dependency_is_down_logs_one_line_and_a_bug_its_traceback(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Object storage down for an hour must not print a traceback every interval."""
    from common.errors import ServiceUnavailable

    async def storage_down() -> None:
        raise ServiceUnavailable("Image storage is unavailable right now; please try again.")

    async def bug() -> None:
        raise KeyError("oops")

    name = f"test.down.{make_sn(SnPrefix.HOMESTAY_ORDER)}"
    down, failed = await _log_of_runs(settings, caplog, name, storage_down, bug)
    assert (down.levelno, down.exc_info) == (logging.WARNING, None)
    assert down.getMessage() == (
        f"{name} skipped: Image storage is unavailable right now; please try again. "
        "It runs again next interval."
    )
    assert failed.levelno == logging.ERROR
    assert failed.exc_info is not None and failed.exc_info[0] is KeyError


async def test_the_scheduler_relays_new_messages_and_stops_cleanly(
    settings: Settings, orders_db: Database, stack: Stack
) -> None:
    from workers.scheduler import serve

    sn = await place_order(orders_db, pay_in_seconds=600)
    stop = asyncio.Event()
    wired = settings.model_copy(
        update={
            "payments_internal_url": stack.subgraph_urls[Domain.PAYMENTS],
            "orders_internal_url": stack.subgraph_urls[Domain.ORDERS],
        }
    )
    scheduler = asyncio.create_task(serve(wired, stop))
    try:
        deadline = time.monotonic() + 5
        while (await message_of(orders_db, sn)).sent_at is None:
            assert not scheduler.done(), scheduler
            assert time.monotonic() < deadline, "the scheduler did not relay the message"
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.wait_for(scheduler, timeout=10)


@pytest.fixture(scope="module")
def amqp_url() -> str:
    """A RabbitMQ server to test the amqp:// broker against (CI sets TEST_AMQP_URL)."""
    url = os.environ.get("TEST_AMQP_URL")
    if not url:
        pytest.skip("TEST_AMQP_URL is not set: no RabbitMQ server to test against")
    return url


def _consumers(amqp_url: str, queue_name: str) -> int:
    import pika  # type: ignore[import-untyped]

    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        declared = connection.channel().queue_declare(queue_name, durable=True, passive=True)
        count: int = declared.method.consumer_count
        return count
    except pika.exceptions.ChannelClosedByBroker:  # the queue does not exist yet
        return 0
    finally:
        connection.close()


@pytest.fixture
def rabbitmq_worker(
    backend_env: dict[str, str], tmp_root: Path, amqp_url: str, payments_url: str
) -> Iterator[subprocess.Popen[bytes]]:
    """A real `looklook worker` with BROKER_URL=amqp://…, consuming once this returns."""
    env = {
        **os.environ,
        **backend_env,
        "BROKER_URL": amqp_url,
        "PAYMENTS_INTERNAL_URL": payments_url,
        "dramatiq_prom_port": str(free_port()),
        "dramatiq_prom_db": str(tmp_root / "dramatiq-prometheus-amqp"),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "common.cli", "worker", "--threads", "2"],
        cwd=PROJECT_ROOT,
        env=env,
    )
    try:
        deadline = time.monotonic() + WORKER_BOOT_SECONDS
        while not _consumers(amqp_url, f"{ORDERS_QUEUE}.DQ"):
            assert process.poll() is None, "the worker exited"
            assert time.monotonic() < deadline, "the worker did not start consuming"
            time.sleep(0.2)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0


async def test_unpaid_order_closes_through_rabbitmq(
    orders_db: Database, amqp_url: str, rabbitmq_worker: subprocess.Popen[bytes]
) -> None:
    """BROKER_URL=amqp://… switches relay and worker to RabbitMQ with no code change."""
    rabbit = create_broker(amqp_url)
    try:
        sn = await place_order(orders_db, pay_in_seconds=1)
        assert await relay_until_sent(orders_db, rabbit, sn) >= 1
        elapsed = await wait_for_state(orders_db, sn, TradeState.CANCELLED)
    finally:
        rabbit.close()
    assert rabbitmq_worker.poll() is None
    print(f"closed {elapsed:.2f}s after relay through RabbitMQ (pay timeout 1s)")
