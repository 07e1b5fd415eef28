"""`baton up`: run the whole system on one machine.

Starts (or connects to) PostgreSQL and the broker, creates topics, migrates, launches the
four services as separate uvicorn processes, seeds a demo sales team, writes
`.baton/local.json`, supervises the children, and on Ctrl-C or SIGTERM stops them in the
order that loses nothing: services (consumers drain, relays flush) first, broker, database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from baton.embedded import (
    EmbeddedBroker,
    EmbeddedPostgres,
    InfrastructureError,
    die_with_parent,
    terminate,
)
from baton.services import DEFAULT_PORTS, SERVICES, service, upgrade_all
from shared.auth import Role, issue_token
from shared.contracts.topics import (
    EVENT_TOPICS,
    LEAD_KEY_CHANGED,
    TOPOLOGY,
    consumer_groups,
    dead_letter_topic,
)
from shared.kafka import ensure_topics

DEMO_TEAM = (
    ("Ava Reyes", "ava.reyes@example.com", "America/New_York"),
    ("Ben Okafor", "ben.okafor@example.com", "Europe/London"),
    ("Chloe Martin", "chloe.martin@example.com", "Europe/Paris"),
    ("Dev Patel", "dev.patel@example.com", "Asia/Kolkata"),
)
READY_TIMEOUT_S = 90.0
MAX_RESTARTS = 5
SENDERS_PORT = service("routing").role_port("senders")
# On one machine the senders share the cores with the assignment path. A rep's message may wait a
# moment for CPU; an assignment, whose SLA clock is already running, should not wait for the
# message: so the senders run at a lower priority (the chart gives them CPU of their own).
SENDERS_NICENESS = 10


def all_topics() -> list[str]:
    groups = [group for service in TOPOLOGY for group in consumer_groups(service)]
    return [*EVENT_TOPICS, LEAD_KEY_CHANGED, *(dead_letter_topic(group) for group in groups)]


@dataclass
class UpConfig:
    home: Path
    host: str
    ports: dict[str, int]
    broker_port: int
    partitions: int
    database_url: str | None
    kafka_bootstrap_servers: str | None
    seed: bool = True
    # Routing's senders in a process of their own (BATON_ROUTING_SENDERS=separate, the default
    # here), so their sends never share the assignment path's core; `inline` runs them in routing.
    senders_separate: bool = True
    senders_port: int = SENDERS_PORT

    @classmethod
    def from_env(cls, home: Path | None = None, partitions: int | None = None) -> UpConfig:
        env = os.environ
        return cls(
            home=(home or Path(env.get("BATON_HOME", ".baton"))).resolve(),
            host=env.get("BATON_HOST", "127.0.0.1"),
            ports={s: int(env.get(f"BATON_{s.upper()}_PORT", p)) for s, p in DEFAULT_PORTS.items()},
            broker_port=int(env.get("BATON_BROKER_PORT", "19092")),
            partitions=partitions or int(env.get("BATON_TOPIC_PARTITIONS", "6")),
            database_url=env.get("BATON_DATABASE_URL") or env.get("DATABASE_URL"),
            kafka_bootstrap_servers=env.get("BATON_KAFKA_BOOTSTRAP_SERVERS")
            or env.get("KAFKA_BOOTSTRAP_SERVERS"),
            seed=env.get("BATON_SEED_DEMO_TEAM", "1") != "0",
            senders_separate=env.get("BATON_ROUTING_SENDERS", "separate") != "inline",
            senders_port=int(env.get("BATON_ROUTING_SENDERS_PORT", SENDERS_PORT)),
        )


@dataclass
class Child:
    name: str
    command: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: list[float] = field(default_factory=list)
    # Added to the process's nice value once it is ready: work that may wait yields the cores to
    # work that may not. Not before: on a busy machine a process niced from birth could take
    # minutes to import and start, and `baton up` would give up on it.
    niceness: int = 0

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent
            )

    def settle(self) -> None:
        """Lower the running process's priority by `niceness` (once it is ready)."""
        if not self.niceness or self.process is None or self.process.poll() is not None:
            return
        pid = self.process.pid
        with contextlib.suppress(ProcessLookupError):
            os.setpriority(os.PRIO_PROCESS, pid, os.getpriority(os.PRIO_PROCESS, pid) + self.niceness)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Launcher:
    def __init__(self, config: UpConfig) -> None:
        self.config = config
        self.postgres: EmbeddedPostgres | None = None
        self.broker: EmbeddedBroker | None = None
        self.children: list[Child] = []
        self._stop_requested = False

    def say(self, message: str) -> None:
        print(f"baton: {message}", flush=True)

    def _request_stop(self, signum: int, _frame: FrameType | None) -> None:
        self._stop_requested = True

    def run(self) -> int:
        cfg = self.config
        cfg.home.mkdir(parents=True, exist_ok=True)
        (cfg.home / "logs").mkdir(exist_ok=True)
        pidfile = cfg.home / "up.pid"
        other = _running_pid(pidfile)
        if other is not None:
            self.say(f"already running as pid {other}; stop it with `kill -TERM {other}`")
            return 1
        pidfile.write_text(str(os.getpid()))
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)
        try:
            return self._run()
        except InfrastructureError as exc:
            self.say(f"error: {exc}")
            return 1
        except Exception as exc:
            self.say(f"error: {type(exc).__name__}: {exc} (logs in {self.config.home / 'logs'})")
            return 1
        finally:
            self.shutdown()
            pidfile.unlink(missing_ok=True)

    def _run(self) -> int:
        cfg = self.config
        secret = self._jwt_secret()
        database_url = self._database()
        bootstrap = self._broker()
        self.say(f"creating topics ({cfg.partitions} partitions each)")
        asyncio.run(ensure_topics(bootstrap, all_topics(), partitions=cfg.partitions))
        self.say("migrating " + ", ".join(SERVICES))
        upgrade_all(database_url)
        env = {
            **os.environ,
            "BATON_DATABASE_URL": database_url,
            "BATON_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "BATON_JWT_SECRET": secret,
            "BATON_AUTH_MODE": "hs256",
        }
        # Feedback's dashboard reads the rubric drafts awaiting approval from scoring.
        env.setdefault("BATON_SCORING_URL", f"http://{cfg.host}:{cfg.ports['scoring']}")
        # ...and links its lead look-up to ingest's lead view, scoring's score and routing's assignment:
        # addresses the reader's browser opens, here the same local ones.
        for linked in ("ingest", "scoring", "routing"):
            env.setdefault(f"BATON_PUBLIC_{linked.upper()}_URL", f"http://{cfg.host}:{cfg.ports[linked]}")
        # Scoring's signing page shows feedback's evidence and links to its dashboard.
        env.setdefault("BATON_DASHBOARD_URL", f"http://{cfg.host}:{cfg.ports['feedback']}")
        if self.broker is not None:
            # The embedded broker holds a group join for half the session timeout.
            env.setdefault("BATON_CONSUMER_SESSION_TIMEOUT_MS", "4000")
        self.children = service_children(cfg, env)
        for child in self.children:
            child.start()
        urls = {name: f"http://{cfg.host}:{port}" for name, port in cfg.ports.items()}
        senders = {"routing-senders": f"http://{cfg.host}:{cfg.senders_port}"} if cfg.senders_separate else {}
        if not self._wait_ready({**urls, **senders}):
            return 1
        reps = self._seed_team(urls["routing"], secret) if cfg.seed else []
        self._write_local_json(urls, database_url, bootstrap, secret, reps)
        self.say("ready")
        for name, url in urls.items():
            print(f"  {name:<9} {url}   (API docs: {url}/docs)")
        # The token rides in the fragment, which browsers never send to a server or write to a log.
        manager = issue_token(secret, role=Role.MANAGER, subject="local-dashboard")
        print(f"  dashboard {urls['feedback']}/#token={manager}")
        for url in senders.values():
            print(f"  senders   {url}/metrics   (routing's notifications, webhooks, CRM sync)")
        print(f"  logs      {cfg.home / 'logs'}")
        print(f"  tokens    {cfg.home / 'local.json'}  (or: baton token manager)")
        print("Press Ctrl-C to stop.", flush=True)
        return self._supervise()

    def _jwt_secret(self) -> str:
        if os.environ.get("BATON_JWT_SECRET"):
            return os.environ["BATON_JWT_SECRET"]
        path = self.config.home / "jwt_secret"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()

    def _database(self) -> str:
        if self.config.database_url:
            self.say("using the configured database (DATABASE_URL)")
            return self.config.database_url
        self.say(f"starting embedded PostgreSQL in {self.config.home / 'pgdata'}")
        self.postgres = EmbeddedPostgres(self.config.home / "pgdata")
        return self.postgres.start()

    def _broker(self) -> str:
        if self.config.kafka_bootstrap_servers:
            self.say("using the configured Kafka (KAFKA_BOOTSTRAP_SERVERS)")
            return self.config.kafka_bootstrap_servers
        self.say(f"starting the embedded broker on 127.0.0.1:{self.config.broker_port} (memory storage)")
        self.broker = EmbeddedBroker(
            self.config.broker_port, log_path=self.config.home / "logs" / "broker.log"
        )
        return self.broker.start()

    def _wait_ready(self, urls: dict[str, str]) -> bool:
        pending = dict(urls)
        deadline = time.monotonic() + READY_TIMEOUT_S
        with httpx.Client(timeout=2) as client:
            while pending and time.monotonic() < deadline and not self._stop_requested:
                for child in self.children:
                    if child.process is not None and child.process.poll() is not None:
                        self.say(
                            f"{child.name} exited during start-up; its log ends with:\n{child.log_tail()}"
                        )
                        return False
                for name, url in list(pending.items()):
                    try:
                        # 200 also means "degraded" (serving without the broker): `baton up`
                        # waits for every part, consumers in their groups included.
                        if client.get(f"{url}/readyz").json().get("status") == "ready":
                            pending.pop(name)
                            for child in self.children:
                                if child.name == name:
                                    child.settle()
                    except (httpx.HTTPError, ValueError):
                        pass
                time.sleep(0.2)
        if pending:
            self.say(
                f"not ready after {READY_TIMEOUT_S:.0f}s: {', '.join(pending)} (see {self.config.home}/logs)"
            )
        return not pending

    def _seed_team(self, routing_url: str, secret: str) -> list[dict[str, Any]]:
        headers = {"Authorization": f"Bearer {issue_token(secret, role=Role.ADMIN, subject='baton-up')}"}
        with httpx.Client(base_url=routing_url, headers=headers, timeout=10) as client:
            existing = client.get("/v1/reps")
            existing.raise_for_status()
            reps: list[dict[str, Any]] = _items(existing.json())
            if not reps:
                for name, email, tz in DEMO_TEAM:
                    created = client.post("/v1/reps", json={"name": name, "email": email, "timezone": tz})
                    created.raise_for_status()
                    reps.append(created.json())
                self.say(f"seeded a demo sales team of {len(reps)} reps")
        return reps

    def _write_local_json(
        self, urls: dict[str, str], database_url: str, bootstrap: str, secret: str, reps: list[dict[str, Any]]
    ) -> None:
        def token(role: Role, **ids: Any) -> str:
            return issue_token(secret, role=role, subject=f"local-{role.value}", **ids)

        document = {
            "urls": urls,
            "database_url": database_url,
            "kafka_bootstrap_servers": bootstrap,
            "embedded": {"postgres": self.postgres is not None, "broker": self.broker is not None},
            "jwt_secret": secret,
            "tokens": {
                role.value: token(role) for role in (Role.ADMIN, Role.MANAGER, Role.MARKETING, Role.SALES)
            },
            "reps": [{**rep, "token": token(Role.REP, rep_id=rep["id"])} for rep in reps if "id" in rep],
        }
        path = self.config.home / "local.json"
        path.write_text(json.dumps(document, indent=2, default=str))
        path.chmod(0o600)

    def _supervise(self) -> int:
        while not self._stop_requested:
            for child in self.children:
                if child.process is not None and child.process.poll() is not None:
                    now = time.monotonic()
                    child.restarts = [t for t in child.restarts if now - t < 60] + [now]
                    if len(child.restarts) > MAX_RESTARTS:
                        self.say(f"{child.name} keeps exiting; stopping. Log tail:\n{child.log_tail()}")
                        return 1
                    self.say(f"{child.name} exited ({child.process.returncode}); restarting")
                    child.start()
                    # No readiness wait here: supervision goes on for the others meanwhile.
                    child.settle()
            time.sleep(0.2)
        self.say("stopping")
        return 0

    def shutdown(self) -> None:
        # Services first and together (each drains its consumer and flushes its outbox), broker
        # after them, database last.
        for child in self.children:
            if child.process is not None and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        for child in self.children:
            if child.process is not None:
                terminate(child.process, timeout_s=20)
        if self.children:
            self.say("services stopped")
        self.children.clear()
        if self.broker is not None:
            self.broker.stop()
            self.broker = None
            self.say("broker stopped")
        if self.postgres is not None:
            self.postgres.stop()
            self.postgres = None
            self.say("PostgreSQL stopped")


def service_children(cfg: UpConfig, env: dict[str, str]) -> list[Child]:
    """One `baton serve` process per service, and routing's senders in their own unless
    `cfg.senders_separate` is off (then routing runs them inline, as its setting's default)."""
    logs = cfg.home / "logs"

    def serve(name: str, port: int, *role: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "baton.cli",
            "serve",
            name,
            *role,
            "--host",
            cfg.host,
            "--port",
            str(port),
        ]

    children = []
    for name, port in cfg.ports.items():
        child_env = env
        if name == "routing":
            child_env = {**env, "BATON_ROUTING_SENDERS": "separate" if cfg.senders_separate else "inline"}
        children.append(Child(name, serve(name, port), child_env, logs / f"{name}.log"))
    if cfg.senders_separate:
        senders = serve("routing", cfg.senders_port, "--role", "senders")
        children.append(
            Child("routing-senders", senders, env, logs / "routing-senders.log", niceness=SENDERS_NICENESS)
        )
    return children


def _items(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, list):
        return body
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        return list(body["items"])
    return []


def _running_pid(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid if pid != os.getpid() else None
