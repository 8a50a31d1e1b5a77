"""The `looklook` command: dev runner, migrations, demo data, schema export, servers, workers.

Commands import what they need when they run: `looklook dev` starts the router
before Alembic and SQLAlchemy are even loaded.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any

from common.settings import PROJECT_ROOT, Domain, get_settings
from common.subgraphs import available_domains, schema_path

SCHEMA_DIR = PROJECT_ROOT / "schema"


def export_sdl(domain: Domain) -> str:
    module_name, attribute = schema_path(domain).split(":")
    schema = getattr(importlib.import_module(module_name), attribute)
    return f"{schema.as_str().rstrip()}\n"


def _domains(chosen: Sequence[Domain]) -> list[Domain]:
    return list(chosen) if chosen else available_domains()


def _revision(domain: Domain, message: str, *, autogenerate: bool) -> int:
    from alembic.util import CommandError

    from common import migrations

    try:
        path = migrations.revision(domain, message, autogenerate=autogenerate)
    except CommandError as error:
        print(f"looklook revision: {error}", file=sys.stderr)
        if autogenerate:
            print(
                f"(autogenerate needs the database at head: `looklook migrate {domain.value}`)",
                file=sys.stderr,
            )
        return 1
    shown = path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path
    print(f"wrote {shown}")
    return 0


MIGRATION_WAIT_SECONDS = 600.0


def _wait_for_migrations(domains: Sequence[Domain]) -> int:
    """Poll until every database is at head; a new version never serves an old schema."""
    import time

    from common import migrations

    deadline = time.monotonic() + MIGRATION_WAIT_SECONDS
    while behind := [d.value for d in domains if not migrations.is_current(d)]:
        if time.monotonic() > deadline:
            print(f"looklook migrate --wait: still behind: {', '.join(behind)}", file=sys.stderr)
            return 1
        time.sleep(2)
    return 0


def _payments_operator(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    import asyncio

    from subgraphs.payments import operator

    settings = get_settings()
    if args.command == "payment-ledger":
        return asyncio.run(operator.show_ledger(settings, args.payment_sn, print))
    if args.command == "reconcile":
        return asyncio.run(operator.reconcile_now(settings, print))
    if args.action == "retry":
        if not args.payment_sn:
            parser.error("refunds retry needs a PAYMENT_SN")
        return asyncio.run(operator.retry(settings, args.payment_sn, print))
    return asyncio.run(operator.list_refunds(settings, print, stuck_only=args.stuck))


def build_parser() -> argparse.ArgumentParser:
    """The `looklook` command line (deployment manifests are checked against it too)."""
    parser = argparse.ArgumentParser(prog="looklook", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("dev", help="run the whole system on embedded defaults")
    migrate = commands.add_parser("migrate", help="upgrade databases to the latest schema")
    migrate.add_argument("domains", nargs="*", type=Domain, metavar="DOMAIN")
    migrate.add_argument(
        "--wait",
        action="store_true",
        help="migrate nothing: wait until another process (the migrate Job) has brought"
        " the databases to the latest schema (a Kubernetes initContainer)",
    )
    revision = commands.add_parser(
        "revision",
        help="write a new migration: subgraphs/<domain>/migrations/versions/<NNNN>_<slug>.py",
    )
    revision.add_argument("domain", type=Domain, metavar="DOMAIN", help=", ".join(Domain))
    revision.add_argument("-m", "--message", required=True, help="what the revision changes")
    revision.add_argument(
        "--autogenerate",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="compare the models with the database, which must be at head (default: on)",
    )
    commands.add_parser("seed", help="fill an empty catalog with demo data (after migrate)")
    export = commands.add_parser("export-schema", help="write schema/<subgraph>.graphql")
    export.add_argument("domains", nargs="*", type=Domain, metavar="DOMAIN")
    serve = commands.add_parser("serve", help="serve one subgraph with uvicorn")
    serve.add_argument("domain", choices=[d.value for d in Domain])
    serve.add_argument("--workers", type=int, default=1)
    worker = commands.add_parser("worker", help="run the Dramatiq worker for every actor")
    worker.add_argument("--processes", type=int, default=1)
    worker.add_argument("--threads", type=int, default=4)
    worker.add_argument("--dead-letters", action="store_true", help="list them and exit")
    commands.add_parser("scheduler", help="run the periodic jobs and the outbox relay")
    certs = commands.add_parser(
        "certs",
        help="make the development CA and every process's TLS certificate under DATA_DIR/certs",
    )
    certs.add_argument(
        "--renew", action="store_true", help="reissue every process's certificate now"
    )
    env_example = commands.add_parser(
        "env-example", help="print .env.example (every setting at its default)"
    )
    env_example.add_argument("--write", action="store_true", help="write .env.example instead")
    commands.add_parser(
        "republish-night-holds",
        help="send every order's held nights to travel's search read model again",
    )
    ledger = commands.add_parser(
        "payment-ledger", help="show a payment's ledger: every answer from WeChat and its totals"
    )
    ledger.add_argument("payment_sn")
    commands.add_parser(
        "reconcile",
        help="ask WeChat Pay now about every waiting or refunding payment, whatever its age"
        " (the scheduler waits PAYMENT_RECONCILE_AFTER_SECONDS)",
    )
    refunds = commands.add_parser(
        "refunds", help="list refunds (--stuck: CLOSED/ABNORMAL ones), or `retry PAYMENT_SN`"
    )
    refunds.add_argument("action", nargs="?", choices=["list", "retry"], default="list")
    refunds.add_argument("payment_sn", nargs="?")
    refunds.add_argument("--stuck", action="store_true", help="only refunds that need a person")
    dead = commands.add_parser("dead-letters", help="messages whose retries ran out")
    dead_actions = dead.add_subparsers(dest="action", required=True)
    dead_list = dead_actions.add_parser("list", help="one JSON line per dead letter")
    dead_list.add_argument("--queue", action="append", default=[], help="default: every queue")
    dead_list.add_argument("--limit", type=int, default=100, help="per queue, newest first")
    dead_redrive = dead_actions.add_parser("redrive", help="send dead letters again")
    dead_redrive.add_argument("queue")
    _ids_or_all(dead_redrive, str, "dead-letter ids (the `id` of `list`)")
    outbox = commands.add_parser("outbox", help="outbox rows the relay parked")
    outbox_actions = outbox.add_subparsers(dest="action", required=True)
    outbox_list = outbox_actions.add_parser("list", help="one JSON line per parked row")
    outbox_list.add_argument("domains", nargs="*", type=Domain, metavar="DOMAIN")
    outbox_redrive = outbox_actions.add_parser("redrive", help="relay parked rows again")
    outbox_redrive.add_argument("domain", type=Domain, metavar="DOMAIN")
    _ids_or_all(outbox_redrive, int, "row ids")
    return parser


def _ids_or_all(parser: argparse.ArgumentParser, kind: type, what: str) -> None:
    parser.add_argument("ids", nargs="*", type=kind, help=what)
    parser.add_argument("--all", action="store_true", help="all of them instead")


def _chosen_ids(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[Any] | None:
    """The ids to redrive, or None for --all; exactly one of the two must be given."""
    if args.all == bool(args.ids):
        parser.error("give either ids or --all")
    return None if args.all else list(args.ids)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = get_settings()

    if args.command == "dev":
        from common.devrunner import run_dev

        return run_dev(settings)
    if args.command == "migrate":
        from common import migrations

        if args.wait:
            return _wait_for_migrations(_domains(args.domains))
        for domain in _domains(args.domains):
            migrations.upgrade(domain)
        return 0
    if args.command == "revision":
        return _revision(args.domain, args.message, autogenerate=args.autogenerate)
    if args.command == "seed":
        # Imported here: the demo package is a development tool, not in the production image.
        from demo.seed import SeedRefused, seed

        try:
            print(seed(settings))
        except SeedRefused as error:
            print(error, file=sys.stderr)
            return 1
        return 0
    if args.command == "export-schema":
        SCHEMA_DIR.mkdir(exist_ok=True)
        for domain in _domains(args.domains):
            (SCHEMA_DIR / f"{domain.value}.graphql").write_text(export_sdl(domain))
            print(f"wrote schema/{domain.value}.graphql")
        return 0
    if args.command == "serve":
        from common.logs import configure_logging
        from common.serving import serve

        domain = Domain(args.domain)
        # Before uvicorn starts, so its own start-up lines are formatted like the rest.
        configure_logging(f"looklook-{domain.value}", settings)
        return serve(domain, settings, workers=args.workers)
    if args.command == "certs":
        from common.certs import ensure_certificates

        for outcome in ensure_certificates(settings.certs_dir, renew=args.renew):
            print(f"{outcome.name:<9} {outcome.action:<8} valid until {outcome.not_after:%Y-%m-%d}")
        print(f"in {settings.certs_dir}")
        return 0
    if args.command == "worker":
        if args.dead_letters:
            from workers.operations import list_dead_letters

            return list_dead_letters(settings)
        from workers.run import run_worker

        return run_worker(settings, processes=args.processes, threads=args.threads)
    if args.command == "dead-letters":
        from workers import operations

        if args.action == "list":
            return operations.list_dead_letters(settings, args.queue, limit=args.limit)
        return operations.redrive_dead_letters(settings, args.queue, _chosen_ids(parser, args))
    if args.command == "outbox":
        from workers import operations

        if args.action == "list":
            return operations.list_parked(settings, args.domains)
        return operations.redrive_parked(settings, args.domain, _chosen_ids(parser, args))
    if args.command == "scheduler":
        from workers.scheduler import run_scheduler

        return run_scheduler(settings)
    if args.command == "env-example":
        from common.envexample import ENV_EXAMPLE, render_env_example

        if args.write:
            ENV_EXAMPLE.write_text(render_env_example())
            print(f"wrote {ENV_EXAMPLE.name}")
        else:
            print(render_env_example(), end="")
        return 0
    if args.command == "republish-night-holds":
        from workers.operations import republish_night_holds

        return republish_night_holds(settings)
    if args.command in ("payment-ledger", "refunds", "reconcile"):
        return _payments_operator(parser, args)
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
