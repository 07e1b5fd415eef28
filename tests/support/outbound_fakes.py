"""Local stand-ins for the outside world of routing's outbound messages, served by uvicorn on a
real loopback port: a webhook receiver that verifies with the `standardwebhooks` library, and
HubSpot and Salesforce fakes speaking their documented request, response and error shapes."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

# HubSpot's 429, as its API answers it (api usage guidelines; forum thread "HubSpot API
# Secondly Limit", integrate.hubspot.com/t/313), byte for byte.
HUBSPOT_RATE_LIMITED = (
    '{"status":"error","message":"You have reached your secondly limit.","errorType":"RATE_LIMIT",'
    '"correlationId":"6828d000-3d2f-4701-8d90-b21e53b0d005","policyName":"SECONDLY",'
    '"requestId":"ce6a6a91-ac17-492f-bbdb-7d72477c319c"}'
)
# HubSpot's v3 error object (status, message, correlationId, category).
HUBSPOT_SERVER_ERROR = (
    '{"status":"error","message":"internal error","correlationId":"3d3e35b7-0dae-4b9f-a6e3-9c230cbcf8dd",'
    '"category":"INTERNAL_ERROR"}'
)
# HubSpot's 409 on creating a contact whose email exists, naming the existing contact.
HUBSPOT_CONFLICT = (
    '{"status":"error","message":"Contact already exists. Existing ID: {id}",'
    '"correlationId":"f1f4d9c1-9e6d-4b1d-8a6e-0c3e0b8f6a11","category":"CONFLICT"}'
)
# Salesforce REST errors are an array of {message, errorCode} (REST API Developer Guide, "Status
# Codes and Error Responses"); the daily API limit answers 403 REQUEST_LIMIT_EXCEEDED.
SALESFORCE_LIMIT_EXCEEDED = (
    '[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]'
)
SALESFORCE_INVALID_SESSION = '[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]'
SALESFORCE_SERVER_ERROR = (
    '[{"message":"An unexpected error occurred. Please include this ErrorId if you contact support: '
    '1930143519-61235 (-1253546153)","errorCode":"UNKNOWN_EXCEPTION"}]'
)


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """`app` under uvicorn on a free loopback port; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@dataclass
class Receiver:
    """A tool's webhook endpoint: answers the scripted statuses first, then 200 to deliveries
    that verify under any of its secrets; keeps what it accepted."""

    secrets: list[str]
    script: list[int] = field(default_factory=list)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    rejected: int = 0
    calls: int = 0

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            self.calls += 1
            body = await request.body()
            if self.script:
                return Response(status_code=self.script.pop(0))
            for secret in self.secrets:
                try:
                    payload = Webhook(secret).verify(body, dict(request.headers))
                except WebhookVerificationError:
                    continue
                self.accepted.append(payload)
                self.ids.append(request.headers["webhook-id"])
                return Response(status_code=204)
            self.rejected += 1
            return Response(status_code=401)

        return app


def _json(body: str, status: int, **headers: str) -> Response:
    return Response(content=body, status_code=status, media_type="application/json", headers=headers)


@dataclass
class HubSpot:
    """HubSpot's contacts API: search, create, update. `failures` are answered, in order, to the
    owner updates before they succeed."""

    token: str = "pat-eu1-test"
    contacts: dict[str, dict[str, str]] = field(default_factory=dict)
    failures: list[tuple[int, str]] = field(default_factory=list)
    owner_updates: list[tuple[str, str]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    # Search is eventually consistent: contacts not yet indexed are not found, though they exist.
    unindexed: set[str] = field(default_factory=set)

    def app(self) -> FastAPI:
        app = FastAPI()

        def authorized(request: Request) -> bool:
            return request.headers.get("authorization") == f"Bearer {self.token}"

        def contact(contact_id: str) -> dict[str, Any]:
            at = "2026-12-07T03:00:00.000Z"
            return {
                "id": contact_id,
                "properties": self.contacts[contact_id],
                "createdAt": at,
                "updatedAt": at,
                "archived": False,
            }

        @app.post("/crm/v3/objects/contacts/search")
        async def search(request: Request) -> Response:
            self.calls.append("search")
            if not authorized(request):
                return _json(
                    '{"status":"error","message":"Authentication credentials not found.","category":"INVALID_AUTHENTICATION"}',
                    401,
                )
            query = await request.json()
            found = [
                cid
                for cid, props in self.contacts.items()
                if cid not in self.unindexed
                and any(
                    all(props.get(f["propertyName"]) == f["value"] for f in group["filters"])
                    for group in query["filterGroups"]
                )
            ]
            results = [contact(cid) for cid in found[: query.get("limit", 10)]]
            return _json(json.dumps({"total": len(found), "results": results}), 200)

        @app.post("/crm/v3/objects/contacts")
        async def create(request: Request) -> Response:
            self.calls.append("create")
            properties = dict((await request.json())["properties"])
            for existing, props in self.contacts.items():
                if props.get("email") == properties.get("email"):
                    return _json(HUBSPOT_CONFLICT.replace("{id}", existing), 409)
            contact_id = str(len(self.contacts) + 501)
            self.contacts[contact_id] = properties
            return _json(json.dumps(contact(contact_id)), 201)

        @app.patch("/crm/v3/objects/contacts/{contact_id}")
        async def update(contact_id: str, request: Request) -> Response:
            self.calls.append("update")
            if self.failures:
                status, body = self.failures.pop(0)
                return _json(body, status)
            properties = (await request.json())["properties"]
            self.contacts[contact_id].update(properties)
            self.owner_updates.append((contact_id, properties["hubspot_owner_id"]))
            return _json(json.dumps(contact(contact_id)), 200)

        return app


@dataclass
class Salesforce:
    """Salesforce's REST API for Leads: SOQL query, create, update. `failures` are answered, in
    order, to the owner updates before they succeed."""

    version: str = "v62.0"
    token: str = "00Dxx0000001gPL!AR8AQJXg5oj8jXSgxJfA0lBog"
    leads: dict[str, dict[str, str]] = field(default_factory=dict)
    failures: list[tuple[int, str]] = field(default_factory=list)
    owner_updates: list[tuple[str, str]] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()
        root = f"/services/data/{self.version}"

        @app.get(f"{root}/query")
        async def query(q: str, request: Request) -> Response:
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return _json(SALESFORCE_INVALID_SESSION, 401)
            self.queries.append(q)
            wanted = dict(re.findall(r"(Email|Phone) = '((?:[^'\\]|\\.)*)'", q))
            found = [
                lid for lid, lead in self.leads.items() if any(lead.get(k) == v for k, v in wanted.items())
            ]
            records = [
                {"attributes": {"type": "Lead", "url": f"{root}/sobjects/Lead/{lid}"}, "Id": lid}
                for lid in found[:1]
            ]
            return _json(json.dumps({"totalSize": len(records), "done": True, "records": records}), 200)

        @app.post(f"{root}/sobjects/Lead")
        async def create(request: Request) -> Response:
            lead_id = "00Q" + uuid.uuid4().hex[:15]
            self.leads[lead_id] = dict(await request.json())
            return _json(json.dumps({"id": lead_id, "success": True, "errors": []}), 201)

        @app.patch(f"{root}/sobjects/Lead/{{lead_id}}")
        async def update(lead_id: str, request: Request) -> Response:
            if self.failures:
                status, body = self.failures.pop(0)
                return _json(body, status)
            owner = (await request.json())["OwnerId"]
            self.leads[lead_id]["OwnerId"] = owner
            self.owner_updates.append((lead_id, owner))
            return Response(status_code=204)

        return app
