"""The `baton` command: run the whole system, one service, migrations, topics, tokens, imports."""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import sys
import uuid
from pathlib import Path
from typing import TextIO

import httpx

from baton.services import SERVICES, service


def _up(args: argparse.Namespace) -> int:
    from baton.launcher import Launcher, UpConfig

    return Launcher(UpConfig.from_env(home=args.home, partitions=args.partitions)).run()


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from shared.settings import ShutdownSettings

    served = service(args.service)
    uvicorn.run(
        served.role_app_factory(args.role) if args.role else served.app_factory,
        factory=True,
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        # The first share of the shutdown budget the app and the chart share; the lifespan's
        # stops take the rest.
        timeout_graceful_shutdown=max(1, round(ShutdownSettings().drain_seconds)),
        # Behind an ingress, the client's address and scheme come from X-Forwarded-* headers, which
        # are trusted only from these addresses (rate limits and signed URLs depend on it).
        proxy_headers=True,
        forwarded_allow_ips=args.forwarded_allow_ips,
    )
    return 0


def _database_url() -> str:
    url = os.environ.get("BATON_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("baton: set DATABASE_URL (or BATON_DATABASE_URL)")
    return url


def _migrate(args: argparse.Namespace) -> int:
    from baton.services import upgrade

    for name in args.service or SERVICES:
        upgrade(name, _database_url())
        print(f"baton: {name} migrated")
    return 0


def _topics(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from baton.launcher import all_topics
    from shared.kafka import ensure_topics
    from shared.settings import KafkaSettings

    try:
        kafka = KafkaSettings()
    except ValidationError as exc:
        raise SystemExit(
            f"baton: set KAFKA_BOOTSTRAP_SERVERS (or BATON_KAFKA_BOOTSTRAP_SERVERS): {exc}"
        ) from exc
    created = asyncio.run(
        ensure_topics(
            kafka.kafka_bootstrap_servers,
            all_topics(),
            partitions=args.partitions,
            replication_factor=args.replication_factor,
            security=kafka.kafka_security,
        )
    )
    print(f"baton: created {len(created)} topic(s): {', '.join(created) or 'none missing'}")
    return 0


def _token(args: argparse.Namespace) -> int:
    from shared.auth import Role, issue_token

    if args.role == Role.REP.value and args.rep_id is None:
        # A rep sees only their own queue, found by the token's rep id: without one, every rep
        # route would answer 403.
        raise SystemExit(
            "baton: a rep token needs --rep-id REP_ID (the rep's id from GET /v1/reps on routing; "
            f"`baton up` also writes each seeded rep's id and token to {args.home / 'local.json'})"
        )
    secret = os.environ.get("BATON_JWT_SECRET")
    if not secret:
        local = args.home / "local.json"
        if not local.exists():
            raise SystemExit(f"baton: no BATON_JWT_SECRET and no {local}; run `make up` first")
        secret = json.loads(local.read_text())["jwt_secret"]
    print(
        issue_token(
            secret,
            role=Role(args.role),
            subject=args.subject or f"cli-{args.role}",
            rep_id=args.rep_id,
            source_id=args.source_id,
        )
    )
    return 0


def _demo(args: argparse.Namespace) -> int:
    from baton.demo.run import DemoConfig
    from baton.demo.runner import run_demo

    return run_demo(
        DemoConfig(
            weeks=args.weeks,
            seed=args.seed,
            speed=args.speed,
            leads_per_week=args.leads_per_week,
            retune_every=args.retune_every,
            min_outcomes=args.min_outcomes,
            home=args.home,
            against_running=args.against_running,
        )
    )


def _docs(args: argparse.Namespace) -> int:
    from baton.documents import write_documents

    written = write_documents(Path.cwd())
    print(f"baton: {len(written)} document(s) updated: {', '.join(map(str, written)) or 'all current'}")
    return 0


async def import_csv(
    path: Path,
    *,
    url: str,
    token: str,
    column_map: list[str],
    mode: str = "live",
    id_column: str | None = None,
    batch_size: int = 500,
    transport: httpx.AsyncBaseTransport | None = None,
    progress: TextIO = sys.stderr,
) -> dict[str, int]:
    """Send a CSV file to ingest's `POST /v1/imports` in parts of `batch_size` rows, showing
    progress after each; returns the totals. Every row's result is the API's; a re-run of the
    same file creates nothing new (rows are keyed by their content or `id_column`)."""
    with path.open(newline="", encoding="utf-8-sig") as file:
        reader = csv.reader(file)
        header = next(reader, None)
        rows = list(reader)
    if header is None:
        raise SystemExit(f"baton: {path} is empty")
    totals = {"created": 0, "duplicates": 0, "rejected": 0}
    params: list[tuple[str, str]] = [("map", pair) for pair in column_map] + [("mode", mode)]
    params += [("id_column", id_column)] if id_column else []
    headers = {"authorization": f"Bearer {token}", "content-type": "text/csv"}
    async with httpx.AsyncClient(base_url=url, transport=transport, timeout=120) as client:
        for start in range(0, len(rows), batch_size):
            part = io.StringIO()
            csv.writer(part).writerows([header, *rows[start : start + batch_size]])
            response = await client.post(
                "/v1/imports",
                content=part.getvalue(),
                params=[*params, ("first_row", str(start + 1))],
                headers=headers,
            )
            if response.status_code != 200:
                raise SystemExit(
                    f"baton: import refused at row {start + 1}: {response.status_code} {response.text}"
                )
            result = response.json()
            for name in totals:
                totals[name] += result[name]
            for row in result["rows"]:
                if row["status"] == "rejected":
                    print(f"baton import: row {row['row']} rejected: {row['errors']}", file=progress)
            done = min(start + batch_size, len(rows))
            print(
                f"baton import: {done}/{len(rows)} rows ({done * 100 // max(len(rows), 1)}%): "
                f"{totals['created']} created, {totals['duplicates']} already there, {totals['rejected']} rejected",
                file=progress,
                flush=True,
            )
    return totals


def _import(args: argparse.Namespace) -> int:
    local = args.home / "local.json"
    known = json.loads(local.read_text()) if local.exists() else {}
    url = args.url or known.get("urls", {}).get("ingest")
    token = args.token or os.environ.get("BATON_TOKEN") or known.get("tokens", {}).get("marketing")
    if not url or not token:
        raise SystemExit("baton: pass --url and --token (or run `baton up`, whose local.json has both)")
    totals = asyncio.run(
        import_csv(
            args.file,
            url=url,
            token=token,
            column_map=args.map,
            mode=args.mode,
            id_column=args.id_column,
            batch_size=args.batch_size,
        )
    )
    return 1 if totals["rejected"] else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="baton", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    home = Path(os.environ.get("BATON_HOME", ".baton"))

    up = commands.add_parser("up", help="run everything locally (embedded PostgreSQL and broker by default)")
    up.add_argument("--home", type=Path, default=home, help="state folder (default .baton)")
    up.add_argument("--partitions", type=int, default=None, help="partitions per topic (default 6)")
    up.set_defaults(run=_up)

    serve = commands.add_parser("serve", help="run one service under uvicorn")
    serve.add_argument("service", choices=SERVICES)
    serve.add_argument(
        "--role",
        help="run one split-off part of the service instead (routing: senders, the notification, "
        "webhook and CRM send loops; default port 8013)",
    )
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument(
        "--forwarded-allow-ips",
        default=os.environ.get("BATON_FORWARDED_ALLOW_IPS", "127.0.0.1"),
        help="proxies whose X-Forwarded-For/Proto are trusted (comma-separated IPs/CIDRs, or *)",
    )
    serve.set_defaults(run=_serve)

    migrate = commands.add_parser("migrate", help="run Alembic migrations (all services by default)")
    migrate.add_argument("--service", action="append", choices=SERVICES)
    migrate.set_defaults(run=_migrate)

    topics = commands.add_parser("topics", help="create every topic and dead-letter topic that is missing")
    topics.add_argument("--partitions", type=int, default=6)
    topics.add_argument("--replication-factor", type=int, default=1)
    topics.set_defaults(run=_topics)

    docs = commands.add_parser("docs", help="regenerate docs/asyncapi.json and docs/openapi/*.json")
    docs.set_defaults(run=_docs)

    token = commands.add_parser("token", help="issue a development bearer token")
    token.add_argument("role", choices=["admin", "manager", "rep", "marketing", "sales", "source"])
    token.add_argument("--rep-id", type=uuid.UUID, help="the rep's id (required for a rep token)")
    token.add_argument("--source-id")
    token.add_argument("--subject")
    token.add_argument("--home", type=Path, default=home)
    token.set_defaults(run=_token)

    demo = commands.add_parser(
        "demo", help="simulate a company over accelerated time on a running `baton up` (or a private one)"
    )
    demo.add_argument("--weeks", type=int, default=8, help="simulated weeks (default 8)")
    demo.add_argument("--seed", type=int, default=1, help="makes the simulated market reproducible")
    demo.add_argument("--speed", type=float, default=4.0, help="simulated weeks per real minute (default 4)")
    demo.add_argument("--leads-per-week", type=int, default=120, help="new prospects a week (default 120)")
    demo.add_argument(
        "--retune-every", type=int, default=2, help="weeks between rubric proposals (default 2)"
    )
    demo.add_argument(
        "--min-outcomes", type=int, default=30, help="judged MQLs a proposal needs (default 30)"
    )
    demo.add_argument("--home", type=Path, default=home, help="the `baton up` to use (default .baton)")
    demo.add_argument(
        "--against-running",
        action="store_true",
        help="drive the running `baton up` even if people signed its active rubric (the demo "
        "activates rubrics of its own); without it such a Baton is left alone and a private one runs",
    )
    demo.set_defaults(run=_demo)

    imported = commands.add_parser("import", help="import existing leads from a CSV file into ingest")
    imported.add_argument("file", type=Path, help="a CSV file with a header row")
    imported.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="COLUMN=FIELD",
        help="map a column to a lead field (repeat)",
    )
    imported.add_argument(
        "--mode",
        choices=["live", "history"],
        default="live",
        help="live: score and route new leads; history: record them, assign no one (default live)",
    )
    imported.add_argument(
        "--id-column", help="a column naming each row across runs (default: the row's content)"
    )
    imported.add_argument("--batch-size", type=int, default=500, help="rows per request (default 500)")
    imported.add_argument("--url", help="ingest's URL (default: from `baton up`'s local.json)")
    imported.add_argument("--token", help="a marketing or admin token (default: $BATON_TOKEN or local.json)")
    imported.add_argument("--home", type=Path, default=home)
    imported.set_defaults(run=_import)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        served = service(args.service)
        if args.role is not None:
            try:
                port = served.role_port(args.role)
            except ValueError as exc:
                raise SystemExit(f"baton: {exc}") from None
        else:
            port = served.default_port
        args.port = port if args.port is None else args.port
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
