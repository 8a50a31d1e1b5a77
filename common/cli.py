"""The `looklook` command: dev runner, migrations, demo data, schema export, servers, workers."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from alembic.util import CommandError

from common import migrations
from common.settings import PROJECT_ROOT, Domain, get_settings
from common.subgraphs import app_path, available_domains, schema_path

SCHEMA_DIR = PROJECT_ROOT / "schema"


def export_sdl(domain: Domain) -> str:
    module_name, attribute = schema_path(domain).split(":")
    schema = getattr(importlib.import_module(module_name), attribute)
    return f"{schema.as_str().rstrip()}\n"


def _domains(chosen: Sequence[Domain]) -> list[Domain]:
    return list(chosen) if chosen else available_domains()


def _revision(domain: Domain, message: str, *, autogenerate: bool) -> int:
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


def _payments_operator(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    import asyncio

    from subgraphs.payments import operator

    settings = get_settings()
    if args.command == "payment-ledger":
        return asyncio.run(operator.show_ledger(settings, args.payment_sn, print))
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
    ledger = commands.add_parser(
        "payment-ledger", help="show a payment's ledger: every answer from WeChat and its totals"
    )
    ledger.add_argument("payment_sn")
    refunds = commands.add_parser(
        "refunds", help="list refunds (--stuck: CLOSED/ABNORMAL ones), or `retry PAYMENT_SN`"
    )
    refunds.add_argument("action", nargs="?", choices=["list", "retry"], default="list")
    refunds.add_argument("payment_sn", nargs="?")
    refunds.add_argument("--stuck", action="store_true", help="only refunds that need a person")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = get_settings()

    if args.command == "dev":
        from common.devrunner import run_dev

        return run_dev(settings)
    if args.command == "migrate":
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
        import uvicorn

        domain = Domain(args.domain)
        uvicorn.run(
            app_path(domain),
            host=settings.host,
            port=settings.port(domain),
            workers=args.workers,
            access_log=False,
            log_config=None,
        )
        return 0
    if args.command == "worker":
        from workers.run import print_dead_letters, run_worker

        if args.dead_letters:
            return print_dead_letters()
        return run_worker(settings, processes=args.processes, threads=args.threads)
    if args.command == "scheduler":
        from workers.scheduler import run_scheduler

        return run_scheduler(settings)
    if args.command in ("payment-ledger", "refunds"):
        return _payments_operator(parser, args)
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
