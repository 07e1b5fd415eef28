"""PgBouncer mode (BATON_DATABASE_PGBOUNCER), behind a real PgBouncer in transaction mode
(Debian's package, `scripts/ensure-pgbouncer`): consecutive transactions of one client run on
whichever server connection is free, so nothing may stay prepared between them, and there is
no LISTEN; the relay still publishes what a request staged (woken by its own process's commit,
else by polling)."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import ConsumerRecord
from sqlalchemy.engine import make_url

from baton.embedded import InfrastructureError, free_port, wait_for_port
from services.ingest.main import create_app
from services.ingest.settings import IngestSettings
from shared.db import Database
from tests.conftest import Infra
from tests.support.events import event_ids, read_topic
from tests.support.ingest import configure_form, ingest_client

FORMS = 40


def _pgbouncer_binary() -> str:
    found = shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
    )
    if found is None:
        pytest.fail("pgbouncer is not installed: run scripts/ensure-pgbouncer (apt-get install pgbouncer)")
    return found


@pytest.fixture
def pgbouncer(settings_env: Infra) -> Iterator[str]:
    """A PgBouncer in transaction mode in front of the test database; yields its database URL."""
    server = make_url(settings_env.database_url)
    # The embedded PostgreSQL listens on a Unix socket only (`?host=<its folder>`).
    host = server.host or str(server.query["host"])
    server_port = server.port or 5432
    if host.startswith("/"):
        (socket,) = [p for p in Path(host).glob(".s.PGSQL.*") if p.suffix != ".lock"]
        server_port = int(socket.suffix.removeprefix("."))
    port = free_port()
    # PgBouncer refuses to run as root: it then switches to an unprivileged user (the one who
    # owns the database's socket folder), who must read its configuration and write its log.
    as_root = os.geteuid() == 0
    folder = Path(tempfile.mkdtemp(prefix="baton-pgbouncer-"))
    (folder / "userlist.txt").write_text(f'"{server.username}" ""\n')
    password = f" password={server.password}" if server.password else ""
    (folder / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"{server.database} = host={host} port={server_port} dbname={server.database} "
        f"user={server.username}{password}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {folder / 'userlist.txt'}\n"
        "pool_mode = transaction\ndefault_pool_size = 3\nmax_client_conn = 200\n"
        f"logfile = {folder / 'pgbouncer.log'}\n"
    )
    command = [_pgbouncer_binary()]
    if as_root:
        owner = Path(host).stat().st_uid if host.startswith("/") else pwd.getpwnam("postgres").pw_uid
        user = pwd.getpwuid(owner if owner != 0 else pwd.getpwnam("postgres").pw_uid)
        for path in [folder, *folder.iterdir()]:
            os.chown(path, user.pw_uid, user.pw_gid)
        command += ["-u", user.pw_name]
    process = subprocess.Popen([*command, str(folder / "pgbouncer.ini")], stderr=subprocess.PIPE, text=True)
    try:
        try:
            wait_for_port("127.0.0.1", port)
        except InfrastructureError:
            process.kill()
            _, stderr = process.communicate()
            pytest.fail(f"pgbouncer did not start: {stderr}")
        through = server.set(host="127.0.0.1", port=port, query={})
        yield through.render_as_string(hide_password=False)
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


async def test_a_service_in_pgbouncer_mode_takes_forms_through_pgbouncer_and_publishes_them(
    db: Database, pgbouncer: str, settings_env: Infra
) -> None:
    app = create_app(IngestSettings(database_url=pgbouncer, database_pgbouncer=True))
    async with ingest_client(app, client=("127.0.0.1", 1)) as http:
        relay = app.state.runtime.relay
        assert relay is not None
        assert relay.listen is False
        await configure_form(http, "bouncer")
        # Side by side, so PgBouncer's three server connections serve many client transactions.
        answers = await asyncio.gather(
            *(
                http.post("/v1/forms/bouncer/submissions", json={"email": f"lead-{i}@bouncer.example"})
                for i in range(FORMS)
            )
        )
        assert {a.status_code for a in answers} == {202}, answers[0].text
        accepted = {a.json()["event_id"] for a in answers}
        assert (await http.get("/readyz")).json()["checks"]["database"] == "ok"

        def arrived(records: list[ConsumerRecord[bytes, bytes]]) -> bool:
            return accepted <= event_ids(records)

        await read_topic(settings_env.kafka_bootstrap_servers, "lead.ingested", until=arrived, timeout_s=60)
