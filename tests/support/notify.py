"""Stand-ins for the places reps are told of their leads: a Slack-compatible incoming-webhook
server that answers as Slack documents it, and a real SMTP server (aiosmtpd).

Slack's incoming webhooks answer HTTP 200 with the body `ok`; a failure is a status with a short
reason as the plain-text body: 400 `invalid_payload` (the body is not the JSON it claims to
be), 400 `no_text` (neither `text` nor `blocks`), 404 `no_service` (the webhook was revoked or
never existed), 500 `rollup_error`, and 429 with a `Retry-After` header in seconds once a
webhook posts faster than about one message a second.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from shared.contracts import utc_now

# A scripted answer: status, plain-text body, extra headers.
Answer = tuple[int, str, dict[str, str]]
RATE_LIMITED: Answer = (429, "rate_limited", {"Retry-After": "1"})
ROLLUP_ERROR: Answer = (500, "rollup_error", {})


@dataclass
class Received:
    path: str
    body: dict[str, Any]
    at: datetime


@dataclass
class SlackFake:
    """Incoming webhooks at `/services/T0BATON/B{n}/{name}`, one per `hook(name)`."""

    port: int = 0
    hooks: dict[str, list[Answer]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)

    def hook(self, name: str, *script: Answer) -> str:
        """A webhook URL that answers `script` first, then `ok`."""
        path = f"/services/T0BATON/B{len(self.hooks):03d}/{name}"
        self.hooks[path] = list(script)
        return f"http://127.0.0.1:{self.port}{path}"

    def to(self, url: str) -> list[dict[str, Any]]:
        """What the webhook at `url` accepted, in order."""
        path = url.split(str(self.port), 1)[1]
        return [r.body for r in self.received if r.path == path]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *lines = head.decode("latin-1").split("\r\n")
            path = request_line.split(" ")[1]
            length = next(
                (int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")),
                0,
            )
            raw = await reader.readexactly(length)
            status, text, headers = self._answer(path, raw)
            self.answered.append(status)
            extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
            writer.write(
                f"HTTP/1.1 {status} X\r\ncontent-type: text/plain\r\ncontent-length: {len(text)}\r\n"
                f"{extra}connection: close\r\n\r\n{text}".encode()
            )
            await writer.drain()
        finally:
            writer.close()

    def _answer(self, path: str, raw: bytes) -> Answer:
        if path not in self.hooks:
            return 404, "no_service", {}
        try:
            body = json.loads(raw)
        except ValueError:
            return 400, "invalid_payload", {}
        if not isinstance(body, dict):
            return 400, "invalid_payload", {}
        if not body.get("text") and not body.get("blocks"):
            return 400, "no_text", {}
        script = self.hooks[path]
        if script:
            return script.pop(0)
        self.received.append(Received(path, body, utc_now()))
        return 200, "ok", {}


@asynccontextmanager
async def slack_fake() -> AsyncIterator[SlackFake]:
    fake = SlackFake()
    server = await asyncio.start_server(fake.handle, "127.0.0.1", 0)
    fake.port = server.sockets[0].getsockname()[1]
    async with server:
        yield fake


@dataclass
class Mailbox:
    """What the SMTP server accepted: each message with its envelope and when it arrived."""

    host: str = "127.0.0.1"
    port: int = 0
    messages: list[tuple[list[str], EmailMessage, datetime]] = field(default_factory=list)
    # The client end of the connection each message came on: one per SMTP session.
    peers: list[object] = field(default_factory=list)
    # Recipients the server answers "550 No such user" to.
    unknown: set[str] = field(default_factory=set)

    async def handle_RCPT(  # noqa: N802
        self, server: object, session: object, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.unknown:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), message, utc_now()))
        self.peers.append(getattr(session, "peer", None))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [message for rcpt, message, _ in self.messages if address in rcpt]


@asynccontextmanager
async def smtp_server(*, idle_timeout_s: float = 300) -> AsyncIterator[Mailbox]:
    """A real SMTP server (aiosmtpd, in its own thread) on a free local port; it answers 421
    and hangs up on a session idle for `idle_timeout_s`."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailbox = Mailbox(port=port)
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, timeout=idle_timeout_s)
    await asyncio.to_thread(controller.start)
    try:
        yield mailbox
    finally:
        await asyncio.to_thread(controller.stop)
