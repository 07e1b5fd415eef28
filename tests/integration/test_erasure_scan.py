"""After an erasure, the person is nowhere in clear text: not on any topic (dead-letter topics
included), not in any table of the four services (webhook deliveries and CRM syncs among them),
not in their logs; nor are the rep's notes about them on any topic or in any log
(docs/erasure.md)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import text

from baton.launcher import all_topics
from services.feedback.main import create_app as create_feedback
from services.ingest.main import create_app as create_ingest
from services.routing.main import create_app as create_routing
from services.scoring.main import create_app as create_scoring
from shared.auth import Role
from shared.db import Database
from shared.logging import JsonFormatter
from tests.conftest import Infra, bearer
from tests.support.apps import running_service
from tests.support.outbound_fakes import HubSpot, Receiver, serving
from tests.support.waiting import eventually

SCHEMAS = ("ingest", "scoring", "routing", "feedback")
ADMIN = bearer(Role.ADMIN)


class _Lines(logging.Handler):
    """Every log line as the services write it (their JSON formatter)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter("scan"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def captured_logs() -> Iterator[_Lines]:
    handler = _Lines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def every_record(bootstrap_servers: str) -> list[bytes]:
    """Each record's key, value and headers, of every topic Baton creates, read to its end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=None, enable_auto_commit=False)
    await consumer.start()
    found: list[bytes] = []
    try:
        await consumer.topics()
        partitions = [
            TopicPartition(topic, p)
            for topic in all_topics()
            for p in consumer.partitions_for_topic(topic) or ()
        ]
        assert {tp.topic for tp in partitions} == set(all_topics())
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        while any([await consumer.position(tp) < end for tp, end in ends.items()]):
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    headers = b"".join(k.encode() + v for k, v in record.headers)
                    found.append((record.key or b"") + (record.value or b"") + headers)
    finally:
        await consumer.stop()
    return found


async def every_row(db: Database) -> list[str]:
    """Each row of every table of the four schemas, bytes decoded (an outbox's event JSON)."""
    rows: list[str] = []
    async with db.transaction() as session:
        tables = await session.execute(
            text(
                "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema = ANY(:s)"
            ),
            {"s": list(SCHEMAS)},
        )
        for schema, table in tables.all():
            for row in await session.execute(text(f'SELECT * FROM "{schema}"."{table}"')):
                rows.append(f"{schema}.{table}: " + " ".join(_readable(value) for value in row))
    return rows


def _readable(value: Any) -> str:
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode(errors="replace")
    return str(value)


def _clear_text(person: dict[str, str]) -> list[str]:
    """The forms the person's data may take: as posted, normalized, digits only."""
    digits = "".join(c for c in person["phone"] if c.isdigit())
    return [person["email"], person["email"].upper(), person["first_name"], person["last_name"], digits[-9:]]


async def test_an_erased_person_is_nowhere_in_clear_text(
    db: Database, settings_env: Infra, monkeypatch: pytest.MonkeyPatch
) -> None:
    tag = secrets.token_hex(4)
    person = {
        "email": f"scan-{tag}@acme.io",
        "first_name": f"Quorra{tag}",
        "last_name": f"Vexley{tag}",
        "phone": f"+44 20 7946 {secrets.randbelow(10_000):04d}",
    }
    nickname = f"Quo{tag}rra"
    # The person also leaves through routing's outbound paths: a tool's webhook subscription
    # and the CRM owner write-back both keep a copy of the lead until the erasure.
    receiver, hubspot = Receiver(secrets=[]), HubSpot()
    async with serving(receiver.app()) as hook_base, serving(hubspot.app()) as crm_base:
        monkeypatch.setenv("BATON_CRM_PROVIDER", "hubspot")
        monkeypatch.setenv("BATON_CRM_BASE_URL", crm_base)
        monkeypatch.setenv("BATON_CRM_TOKEN", hubspot.token)
        records, rows, lines = await _erase_after_everything(
            db, settings_env, person, nickname, hook=f"{hook_base}/hook", receiver_secrets=receiver.secrets
        )
    assert receiver.accepted, "no webhook delivery went out"
    assert hubspot.owner_updates, "no CRM owner update went out"

    assert records, "the scan read no record"
    assert lines, "the scan read no log line"
    for value in _clear_text(person):
        assert not [r for r in records if value.encode() in r], f"{value!r} on a topic"
        assert not [r for r in rows if value in r], f"{value!r} in a table"
        assert not [line for line in lines if value in line], f"{value!r} in a log line"
    assert not [r for r in records if nickname.encode() in r], "a rep's note on a topic"
    assert not [r for r in rows if nickname in r], "a rep's note in a table"
    assert not [line for line in lines if nickname in line], "a rep's note in a log line"


async def _erase_after_everything(
    db: Database,
    settings_env: Infra,
    person: dict[str, str],
    nickname: str,
    *,
    hook: str,
    receiver_secrets: list[str],
) -> tuple[list[bytes], list[str], list[str]]:
    """Runs the four services: the person's form and activity reach all of them, a rep writes
    notes about them, the lead goes out to the webhook and the CRM, then ingest erases it.
    Returns every record, every row and every log line afterwards."""
    # Built first: building an app configures the root logger afresh.
    apps = create_feedback(), create_routing(), create_scoring(), create_ingest()
    with captured_logs() as logs:
        async with (
            running_service(apps[0], db),
            running_service(apps[1], db) as routing,
            running_service(apps[2], db),
            running_service(apps[3], db) as ingest,
        ):
            rep = await routing.post(
                "/v1/reps", json={"name": "Ern", "email": "ern@example.com"}, headers=ADMIN
            )
            crm_user = {"crm": "hubspot", "crm_user_id": "83017465"}
            identity = await routing.put(f"/v1/crm/reps/{rep.json()['id']}", json=crm_user, headers=ADMIN)
            assert identity.status_code == 200, identity.text
            subscription = {"url": hook, "event_types": ["lead.assigned"]}
            subscribed = await routing.post("/v1/webhooks", json=subscription, headers=ADMIN)
            assert subscribed.status_code == 201, subscribed.text
            receiver_secrets.append(subscribed.json()["secret"])
            form = {"id": "demo-request", "name": "Demo request", "is_hand_raiser": True}
            await ingest.post("/v1/forms", json=form, headers=ADMIN)
            source = await ingest.post("/v1/sources", json={"id": "website", "name": "Site"}, headers=ADMIN)
            posted = await ingest.post("/v1/forms/demo-request/submissions", json=person)
            assert posted.status_code == 202, posted.text
            lead_id = posted.json()["lead_id"]
            activity = {
                "events": [{"type": "page_view", "email": person["email"], "url": "https://acme.io/x"}]
            }
            sent = await ingest.post(
                "/v1/events", json=activity, headers={"X-Api-Key": source.json()["api_key"]}
            )
            assert sent.json()["accepted"] == 1, sent.text

            async def everywhere() -> None:
                assigned = await routing.get(f"/v1/leads/{lead_id}/assignment", headers=ADMIN)
                assert assigned.status_code == 200
                async with db.transaction() as session:
                    counted = await session.scalar(
                        text("SELECT count(*) FROM feedback.lead_fact WHERE lead_id = :id"), {"id": lead_id}
                    )
                    # Inside the transaction's block: a session used after it would begin a
                    # transaction nobody ends, and its locks would block the next test's TRUNCATE.
                    outbound = await session.scalar(
                        text(
                            "SELECT (SELECT count(*) FROM routing.webhook_delivery WHERE lead_id = :id"
                            " AND status = 'delivered') + (SELECT count(*) FROM routing.crm_sync"
                            " WHERE lead_id = :id AND state = 'synced')"
                        ),
                        {"id": lead_id},
                    )
                assert (counted, outbound) == (1, 2)

            await eventually(everywhere, timeout_s=30)
            # A rep's notes may quote the lead: on the wire they travel sealed, and routing's tables
            # drop them at the erasure (the outcomes and their reason codes stay).
            assignment = (await routing.get(f"/v1/leads/{lead_id}/assignment", headers=ADMIN)).json()
            path = f"/v1/assignments/{assignment['id']}"
            quoted = f"{person['first_name']} ({nickname})"
            touched = await routing.post(
                f"{path}/touches", json={"channel": "call", "note": f"spoke to {quoted}"}, headers=ADMIN
            )
            judged = await routing.post(
                f"{path}/disposition",
                json={"outcome": "accepted", "note": f"{quoted} wants a demo"},
                headers=ADMIN,
            )
            assert (touched.status_code, judged.status_code) == (201, 201), (touched.text, judged.text)
            # The services opened the sealed events: the person reached them in clear.
            before = await every_row(db)
            for table in ("routing.webhook_delivery", "routing.crm_sync", "routing.assignment"):
                assert any(row.startswith(table) and person["email"] in row for row in before), table
            erased = await ingest.delete(f"/v1/leads/{lead_id}", headers=ADMIN)
            assert erased.status_code in (200, 202, 204), erased.text

            async def forgotten() -> None:
                async with db.transaction() as session:
                    profile = await session.scalar(
                        text("SELECT email FROM scoring.lead_profile WHERE lead_id = :id"), {"id": lead_id}
                    )
                    snapshot = await session.scalar(
                        text("SELECT lead FROM routing.assignment WHERE lead_id = :id"), {"id": lead_id}
                    )
                    unsent = await session.scalar(
                        text("SELECT count(*) FROM ingest.outbox WHERE sent_at IS NULL")
                    )
                assert (profile, snapshot, unsent) == ("", {"erased": True}, 0)

            await eventually(forgotten, timeout_s=30)
            records = await every_record(settings_env.kafka_bootstrap_servers)
            rows = await every_row(db)
    return records, rows, logs.lines
