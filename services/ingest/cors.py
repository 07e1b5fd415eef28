"""CORS for browser form posts, so a website can embed a form with `fetch()` and read its answer.

A form's `allowed_origins` already decide who may post (`protection.origin_allowed`); this lets
the browser see the answer too: a preflight from an allowed origin is answered, and the post's
answer names that origin in `Access-Control-Allow-Origin`. Other origins get no CORS headers, so
their pages can neither send the JSON post nor read a lead id. Only the public submission route
is covered: every other route takes a bearer token and stays same-origin. A plain ASGI
middleware, so it imports no web framework; requests without an `Origin` (servers) pass untouched.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from services.ingest.protection import origin_allowed

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# A form's allowed origins (empty: any), or None when there is no such form.
FormOrigins = Callable[[str], Awaitable[Sequence[str] | None]]

SUBMISSION_PATH = re.compile(r"^/v1/forms/([A-Za-z0-9._-]{1,200})/submissions$")
# What the embed snippet and a hand-written `fetch()` send; an API key is for servers only.
ALLOWED_HEADERS = ("content-type", "idempotency-key")
PREFLIGHT_MAX_AGE_S = 600
PROBLEM_BASE = "https://baton.dev/problems/"


class FormCors:
    def __init__(self, app: ASGIApp, *, form_origins: FormOrigins) -> None:
        self.app = app
        self.form_origins = form_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = SUBMISSION_PATH.match(scope.get("path", "")) if scope["type"] == "http" else None
        origin = _header(scope, b"origin") if match else None
        if match is None or origin is None:
            await self.app(scope, receive, send)
            return
        allowed = await self.form_origins(match.group(1))
        admitted = allowed is not None and origin_allowed(list(allowed), origin, None)
        if scope["method"] == "OPTIONS" and _header(scope, b"access-control-request-method"):
            await _answer_preflight(send, origin=origin, form_exists=allowed is not None, admitted=admitted)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"vary"]
                varies = [h[1] for h in message.get("headers", []) if h[0].lower() == b"vary"]
                headers.append((b"vary", b", ".join([*varies, b"Origin"])))
                if admitted:
                    headers.append((b"access-control-allow-origin", origin.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_cors)


async def _answer_preflight(send: Send, *, origin: str, form_exists: bool, admitted: bool) -> None:
    headers: list[tuple[bytes, bytes]] = [(b"vary", b"Origin")]
    if admitted:
        headers += [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-methods", b"POST"),
            (b"access-control-allow-headers", ", ".join(ALLOWED_HEADERS).encode()),
            (b"access-control-max-age", str(PREFLIGHT_MAX_AGE_S).encode()),
        ]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    status, slug, title, detail = (
        (403, "origin-not-allowed", "Origin not allowed", f"this form does not accept posts from {origin}")
        if form_exists
        else (404, "form-not-found", "Form not found", "no such form; configure it with POST /v1/forms")
    )
    body = json.dumps({"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail})
    headers += [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body) + 1).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body.encode() + b"\n"})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None


def form_origins_from(state: Any) -> FormOrigins:
    """The lookup `FormCors` needs, on ingest's app state: the form cache first, then the
    database (which fills the cache, so the route that follows reads it from memory)."""

    async def form_origins(form_id: str) -> Sequence[str] | None:
        forms = state.protection.forms
        form = forms.cached(form_id)
        if form is None:
            async with state.db.transaction() as session:
                form = await forms.get(session, form_id)
        return None if form is None else form.allowed_origins

    return form_origins
