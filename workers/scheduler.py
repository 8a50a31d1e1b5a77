"""The periodic scheduler: one process (any number of replicas) running timed jobs.

Jobs: relay the orders and payments outboxes to the broker as soon as a
committed row signals it (a Redis pub/sub "kick", `common.outbox.kick_channel`)
and at least every second; purge sent outbox rows past their retention, hourly;
sweep unpaid orders past their deadline whose close message was lost, every
minute (asking payments first, like the close job); ask WeChat about payments
whose notification is overdue, every minute; match every successful payment
with its order (the consistency job), every minute; mark paid stays USED after
check-out, every ten minutes; forget spent refresh tokens past their expiry,
and delete image uploads never attached, hourly. Each runs at start too, so work missed
while everything was down is caught up at once. Redis locks make each slot run
once across replicas; every job is idempotent anyway, so when Redis itself is
unreachable jobs run unlocked rather than not at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import dramatiq
from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]
from opentelemetry import trace
from prometheus_client import start_http_server
from redis.asyncio import Redis
from redis.exceptions import RedisError

from common.db import Database
from common.errors import ServiceUnavailable
from common.logs import configure_logging
from common.models import utcnow
from common.outbox import OutboxMixin, kick_channel, purge_sent, relay
from common.redis import create_redis, process_redis
from common.settings import Domain, Settings
from common.signals import install_publisher
from common.storage.client import ObjectStorage
from common.storage.images import purge_unattached_uploads
from common.telemetry import instrument_redis, setup_tracing, shutdown_tracing
from subgraphs.orders.payments import PaymentsClient, PaymentsGate
from subgraphs.orders.service import close_overdue_orders, finish_stays
from subgraphs.payments.convergence import OrdersGate, converge
from subgraphs.payments.peers import Peers
from subgraphs.payments.service import reconcile
from subgraphs.users.revocations import purge_spent_refresh_tokens
from workers import resources
from workers.broker import configure_broker
from workers.locks import acquire_run, claim_slot, release_run
from workers.outboxes import OUTBOXES

SERVICE = "scheduler"
RELAY_SECONDS = 1
SWEEP_SECONDS = 60
FINISH_STAYS_SECONDS = 600
PURGE_SECONDS = 3600
# How long the kick listener waits before resubscribing after losing Redis.
KICK_RECONNECT_SECONDS = 1.0
# How long a stopping scheduler lets running jobs finish.
SHUTDOWN_GRACE_SECONDS = 30

logger = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)


class _SkippedRunFilter(logging.Filter):
    """Drops APScheduler's "skipped: maximum number of running instances reached"."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances" not in record.getMessage()


@dataclass(frozen=True)
class Job:
    """A periodic job.

    `per_slot`: run once per interval across replicas; otherwise just never concurrently.
    """

    name: str
    every_seconds: int
    run: Callable[[], Awaitable[object]]
    per_slot: bool = True


def outbox_jobs(
    domain: Domain, db: Database, broker: dramatiq.Broker, settings: Settings
) -> tuple[Job, Job]:
    """The relay of a domain's outbox (run by a `RelayLoop`) and its hourly purge."""
    model: type[OutboxMixin] = OUTBOXES[domain]

    async def relay_outbox() -> int:
        return await relay(db, model, broker, max_attempts=settings.outbox_max_attempts)

    async def purge() -> int:
        return await purge_sent(db, model, older_than_seconds=settings.outbox_retention_seconds)

    return (
        Job(f"{domain.value}.relay_outbox", RELAY_SECONDS, relay_outbox, per_slot=False),
        Job(f"{domain.value}.purge_outbox", PURGE_SECONDS, purge),
    )


def orders_jobs(db: Database, payments: PaymentsGate) -> list[Job]:
    async def sweep_overdue() -> dict[str, str]:
        closed = await close_overdue_orders(db, payments)
        if closed:
            logger.warning("sweeper settled overdue orders whose message was lost: %s", closed)
        return {sn: outcome.value for sn, outcome in closed.items()}

    async def finish() -> int:
        return await finish_stays(db)

    return [
        Job("orders.sweep_overdue", SWEEP_SECONDS, sweep_overdue),
        Job("orders.finish_stays", FINISH_STAYS_SECONDS, finish),
    ]


def payments_jobs(db: Database, settings: Settings, orders: OrdersGate) -> list[Job]:
    async def reconcile_payments() -> list[str]:
        result = await reconcile(db, resources.wechat_pay(), settings)
        if result.settled or result.refunds_settled:
            logger.warning(
                "reconciler settled payments %s and refunds %s whose notification was lost",
                result.settled,
                result.refunds_settled,
            )
        return [*result.settled, *result.refunds_settled]

    async def converge_payments() -> str:
        return (await converge(db, resources.wechat_pay(), settings, orders)).summary()

    return [
        Job("payments.reconcile", settings.payment_reconcile_every_seconds, reconcile_payments),
        Job("payments.converge", settings.payment_converge_every_seconds, converge_payments),
    ]


def users_jobs(db: Database, storage: ObjectStorage, settings: Settings) -> list[Job]:
    async def purge_refresh_tokens() -> int:
        return await purge_spent_refresh_tokens(db)

    async def purge_uploads() -> int:
        retention = timedelta(seconds=settings.image_upload_retention_seconds)
        return await purge_unattached_uploads(storage, uploaded_before=utcnow() - retention)

    return [
        Job("users.purge_spent_refresh_tokens", PURGE_SECONDS, purge_refresh_tokens),
        Job("users.purge_unattached_uploads", PURGE_SECONDS, purge_uploads),
    ]


@dataclass
class JobRunner:
    """Runs a job under its lock and remembers in-flight runs so shutdown can wait for them."""

    redis: Redis
    running: set[asyncio.Task[None]] = field(default_factory=set)

    async def run(self, job: Job) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.running.add(task)
        try:
            await self._run_locked(job)
        finally:
            self.running.discard(task)

    async def _run_locked(self, job: Job) -> None:
        token: str | None = None
        try:
            if job.per_slot:
                if not await claim_slot(self.redis, job.name, job.every_seconds):
                    return
            else:
                token = await acquire_run(self.redis, job.name, ttl_seconds=30)
                if token is None:
                    return
        except RedisError as error:
            logger.warning("%s: Redis lock unavailable, running unlocked: %s", job.name, error)
        try:
            await self._run(job)
        finally:
            if token is not None:
                with contextlib.suppress(RedisError):  # else the lock expires by itself
                    await release_run(self.redis, job.name, token)

    async def _run(self, job: Job) -> None:
        """Run a job; a run that found nothing to do logs at DEBUG (idle runs are most runs)."""
        try:
            if job.per_slot:
                with tracer.start_as_current_span(f"scheduler {job.name}"):
                    result = await job.run()
            else:  # the per-second relay: no span for every idle tick
                result = await job.run()
            logger.log(logging.INFO if result else logging.DEBUG, "%s done: %s", job.name, result)
        except ServiceUnavailable as error:
            # A dependency that is down (object storage, a peer subgraph) is not a bug:
            # one line, not a traceback every interval until it is back.
            logger.warning("%s skipped: %s It runs again next interval.", job.name, error)
        except Exception:
            logger.exception("%s failed; it runs again next interval", job.name)

    async def drain(self, grace_seconds: float) -> None:
        if self.running:
            await asyncio.wait(set(self.running), timeout=grace_seconds)


@dataclass
class RelayLoop:
    """Runs one outbox's relay when kicked, and at least every `job.every_seconds`.

    A kick arriving while the relay runs sets the event again, so the row that
    caused it goes out in the next round, right after: none is missed.
    """

    job: Job
    runner: JobRunner
    kicked: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.kicked.wait(), self.job.every_seconds)
            self.kicked.clear()
            if not stop.is_set():
                await self.runner.run(self.job)


async def listen_for_kicks(
    settings: Settings, loops: dict[str, RelayLoop], stop: asyncio.Event
) -> None:
    """Wake the relay loop of each kick channel on every message (resubscribing after a
    Redis outage; meanwhile the loops still relay every second)."""
    redis = create_redis(settings.redis_url, max_connections=2)
    try:
        while not stop.is_set():
            pubsub = redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(*loops)
                while not stop.is_set():
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message["channel"] in loops:
                        loops[message["channel"]].kicked.set()
            except (RedisError, OSError) as error:
                logger.warning("outbox kicks unavailable, relaying every second: %s", error)
                await asyncio.sleep(KICK_RECONNECT_SECONDS)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
    finally:
        await redis.aclose()


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    """Run the jobs until `stop` is set, then let running jobs finish."""
    databases = {
        domain: Database(settings.database_url(domain), pool_size=2)
        for domain in (*OUTBOXES, Domain.USERS)
    }
    redis = process_redis(settings)
    install_publisher(lambda: redis)  # the reconciler's commits signal like any other
    runner = JobRunner(redis)
    scheduler = AsyncIOScheduler(timezone=UTC)
    broker = configure_broker(settings)
    loops: dict[str, RelayLoop] = {}
    payments = PaymentsClient(settings)  # orders' sweeper asks payments before cancelling
    peers = Peers(settings)  # payments' consistency job tells orders about payments
    storage = ObjectStorage(settings)  # uploads never attached are deleted
    periodic = [
        *orders_jobs(databases[Domain.ORDERS], payments),
        *payments_jobs(databases[Domain.PAYMENTS], settings, peers),
        *users_jobs(databases[Domain.USERS], storage, settings),
    ]
    for domain in OUTBOXES:
        db = databases[domain]
        relay_job, purge_job = outbox_jobs(domain, db, broker, settings)
        loops[kick_channel(OUTBOXES[domain])] = RelayLoop(relay_job, runner)
        periodic.append(purge_job)
    for job in periodic:
        scheduler.add_job(
            runner.run,  # a coroutine function, so APScheduler awaits it on our loop
            "interval",
            args=[job],
            seconds=job.every_seconds,
            id=job.name,
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=job.every_seconds,
        )
    scheduler.start()
    for loop in loops.values():
        loop.kicked.set()  # every job runs at start too
    tasks = [asyncio.create_task(loop.run(stop)) for loop in loops.values()]
    tasks.append(asyncio.create_task(listen_for_kicks(settings, loops, stop)))
    logger.info("scheduler started")
    try:
        await stop.wait()
    finally:
        scheduler.shutdown(wait=False)
        for loop in loops.values():
            loop.kicked.set()  # end their wait now
        await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE_SECONDS)
        await runner.drain(SHUTDOWN_GRACE_SECONDS)
        install_publisher(None)
        await redis.aclose()
        for db in databases.values():
            await db.dispose()
        await peers.aclose()
        await payments.aclose()
        await storage.aclose()
        await resources.dispose()
        logger.info("scheduler stopped")


def run_scheduler(settings: Settings) -> int:
    """The `looklook scheduler` process: SIGTERM or Ctrl-C stops it after running jobs finish."""
    configure_logging(SERVICE, settings)
    # APScheduler logs every run at INFO: one line a second for the relay alone.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, logging.root.level))
    # max_instances=1 and coalesce are deliberate: a run still going when the next is due
    # (the relay at start-up, under load) is not worth a warning each time.
    logging.getLogger("apscheduler.scheduler").addFilter(_SkippedRunFilter())
    setup_tracing(SERVICE, settings)
    instrument_redis()
    if settings.scheduler_metrics_port:
        # The consistency and refund gauges (common.metrics), and the process's own.
        start_http_server(settings.scheduler_metrics_port, addr=settings.host)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await serve(settings, stop)

    try:
        asyncio.run(main())
    finally:
        shutdown_tracing()
    return 0
