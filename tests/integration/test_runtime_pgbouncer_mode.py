"""PgBouncer mode (BATON_DATABASE_PGBOUNCER): a service works without prepared-statement caches
and without a LISTEN connection, which PgBouncer in transaction mode cannot hold; the relay
still publishes what a request staged (woken by its own process's commit, else by polling)."""

from __future__ import annotations

from aiokafka import ConsumerRecord
from sqlalchemy import text

from services.ingest.main import create_app
from services.ingest.settings import IngestSettings
from shared.contracts import decode_event
from shared.db import Database
from tests.conftest import Infra
from tests.integration.test_ingest_support import configure_form, ingest_client
from tests.support import read_topic


async def test_a_service_in_pgbouncer_mode_takes_forms_and_publishes_them_by_polling(
    db: Database, settings_env: Infra
) -> None:
    app = create_app(IngestSettings(database_pgbouncer=True))
    async with ingest_client(app, client=("127.0.0.1", 1)) as http:
        runtime = app.state.runtime
        assert runtime.relay is not None
        assert runtime.relay.listen is False
        await configure_form(http, "bouncer")
        answer = await http.post("/v1/forms/bouncer/submissions", json={"email": "lead@bouncer.example"})
        assert answer.status_code == 202, answer.text
        event_id = answer.json()["event_id"]

        def arrived(records: list[ConsumerRecord[bytes, bytes]]) -> bool:
            return event_id in {str(decode_event(r.value).event_id) for r in records}

        await read_topic(settings_env.kafka_bootstrap_servers, "lead.ingested", until=arrived, timeout_s=30)
        assert runtime.db is not None
        async with runtime.db.engine.connect() as conn:
            # No statement stays prepared on the server connection for a later transaction (but
            # the one asking, which the driver prepares under a name of its own).
            prepared = text("SELECT statement FROM pg_prepared_statements")
            assert [
                s for s in (await conn.scalars(prepared)).all() if "pg_prepared_statements" not in s
            ] == []
