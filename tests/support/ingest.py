"""Helpers for ingest's integration tests: a client from a chosen address,
form configuration, and the events staged in ingest's outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from shared.auth import Role
from shared.contracts import AnyEvent, decode_event
from shared.contracts.topics import LEAD_KEY_CHANGED
from shared.db import Database
from shared.sealing import open_event
from tests.conftest import bearer

MARKETING = bearer(Role.MARKETING)
ADMIN = bearer(Role.ADMIN)
BROWSER = ("203.0.113.7", 50000)


@asynccontextmanager
async def ingest_client(
    app: FastAPI, *, client: tuple[str, int] = BROWSER
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan, and a client whose requests come from `client` (a browser's
    address by default, so rate limits apply as they would in production)."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


async def configure_form(http: httpx.AsyncClient, form_id: str, **config: Any) -> dict[str, Any]:
    response = await http.post(
        "/v1/forms", json={"id": form_id, "name": form_id, **config}, headers=MARKETING
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def staged(db: Database, event_type: str | None = None) -> list[AnyEvent]:
    """The events ingest staged in its outbox, in order, opened with their leads' keys (the key
    records on `lead.key_changed` are left out)."""
    async with db.transaction() as session:
        rows = (
            await session.execute(
                text("SELECT value FROM ingest.outbox WHERE topic <> :keys ORDER BY id"),
                {"keys": LEAD_KEY_CHANGED},
            )
        ).scalars()
        events = [decode_event(bytes(row)) for row in rows]
    return [e for e in await opened(db, events) if event_type is None or e.event_type == event_type]


async def opened(db: Database, events: Sequence[AnyEvent]) -> list[AnyEvent]:
    """`events` with their sealed fields opened by the keys ingest holds (an erased lead's blank)."""
    async with db.transaction() as session:
        rows = await session.execute(text("SELECT lead_id, key FROM ingest.lead_key"))
        keys = {row[0]: bytes(row[1]) for row in rows}
    return [open_event(e, keys.get(e.lead_id)) for e in events]
