"""SMTP sessions kept open between a rep's emails.

Opening a session costs the TCP handshake, the greeting, EHLO and, where configured, STARTTLS
and AUTH: more round trips, and more of the senders' CPU, than the message itself. So sessions
go back to a small pool after each message and the next email reuses one. A server may close a
session it thinks idle (RFC 5321 4.5.3.2.7 lets it after 5 minutes; many do sooner), so a
session idle longer than `max_idle_s` is closed rather than reused, and a message whose reused
session turns out closed is sent once more on a fresh one. Delivery is at least once anyway.

smtplib blocks, and a session is not safe to share between threads: the notifier calls `send`
in a worker thread, and each call holds its session alone until it puts it back.

A rep's email is written straight to the bytes of a plain-text MIME message (`plain_text`):
building an `EmailMessage` parses every header it is given and flattening it walks it again,
a few milliseconds of the senders' CPU per email where the bytes take tens of microseconds.
"""

from __future__ import annotations

import contextlib
import functools
import quopri
import smtplib
import threading
import time
from dataclasses import dataclass
from email.header import Header
from email.message import EmailMessage, Message
from email.utils import formataddr, formatdate, parseaddr

from services.routing.policy import SmtpServer

# Beyond this a reused session is more likely closed by the server than worth keeping.
MAX_IDLE_S = 30.0
# "421 Service not available, closing transmission channel": what a server that timed out an
# idle session answers to the next command (RFC 5321 3.8).
SERVICE_CLOSING = 421
# As many sessions as the notifier sends emails side by side in the usual case.
POOL_SIZE = 4


# RFC 5322 2.1.1: header lines SHOULD stay within 78 characters.
MAX_HEADER_LINE = 78


@dataclass(frozen=True)
class Mail:
    """A message ready for the wire: its envelope (RFC 5321) and its bytes, CRLF line ends."""

    sender: str
    to: str
    data: bytes


def plain_text(*, sender: str, to: str, subject: str, body: str, message_id: str | None = None) -> Mail:
    """A UTF-8 plain-text email (quoted-printable, so every line fits SMTP's limits). `sender`
    may carry a display name (`Baton <baton@example.com>`); `message_id` (a notification's id)
    makes a resent copy recognisable as the same message."""
    envelope_from, from_header = _sender(sender)
    headers = [
        f"From: {from_header}",
        _header("To", formataddr(("", to))),
        _header("Subject", subject),
        f"Date: {formatdate(usegmt=True)}",
    ]
    if message_id is not None:
        headers.append(f"Message-ID: <{message_id}@{envelope_from.rpartition('@')[2] or 'localhost'}>")
    headers += [
        "MIME-Version: 1.0",
        'Content-Type: text/plain; charset="utf-8"',
        "Content-Transfer-Encoding: quoted-printable",
    ]
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    encoded = quopri.encodestring(text.encode(), quotetabs=False).replace(b"\n", b"\r\n")
    return Mail(envelope_from, to, "\r\n".join(headers).encode() + b"\r\n\r\n" + encoded)


@functools.lru_cache(maxsize=8)
def _sender(sender: str) -> tuple[str, str]:
    """The envelope address and the From header of the configured sender (one per process)."""
    name, address = parseaddr(sender)
    return address, _header_value("From", formataddr((name, address), charset="utf-8"))


def _header(name: str, value: str) -> str:
    return f"{name}: {_header_value(name, value)}"


def _header_value(name: str, value: str) -> str:
    # A lead's name or company reaches the subject: no line break may start a header of its own.
    value = " ".join(value.split())
    if value.isascii() and len(name) + 2 + len(value) <= MAX_HEADER_LINE:
        return value
    charset = "us-ascii" if value.isascii() else "utf-8"
    return Header(value, charset, header_name=name).encode(linesep="\r\n")


class SmtpSessions:
    """Up to `size` open sessions with one SMTP server, lent out one message at a time."""

    def __init__(
        self, server: SmtpServer, *, timeout_s: float, size: int = POOL_SIZE, max_idle_s: float = MAX_IDLE_S
    ) -> None:
        self.server = server
        self.timeout_s = timeout_s
        self.size = size
        self.max_idle_s = max_idle_s
        self._idle: list[tuple[smtplib.SMTP, float]] = []
        self._lock = threading.Lock()
        self.opened = 0

    def send(self, message: EmailMessage | Message | Mail) -> None:
        """Send `message` on a pooled session (opened if none is idle); blocks. Raises what
        smtplib raises when the server refuses the message or cannot be reached."""
        session = self._take()
        if session is not None:
            try:
                self._send_on(session, message)
                return
            except (smtplib.SMTPServerDisconnected, ConnectionError):
                pass  # closed by the server while idle: the message went nowhere
            except smtplib.SMTPResponseException as exc:
                if exc.smtp_code != SERVICE_CLOSING:
                    raise
            # So it goes once more, on a fresh session.
        self._send_on(self._open(), message)

    def _send_on(self, session: smtplib.SMTP, message: EmailMessage | Message | Mail) -> None:
        try:
            if isinstance(message, Mail):
                session.sendmail(message.sender, [message.to], message.data)
            else:
                session.send_message(message)
        except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused) as exc:
            if getattr(exc, "smtp_code", None) == SERVICE_CLOSING:
                _close(session)
            else:
                # The server refused this message (smtplib reset the transaction): the
                # session itself is still good.
                self._keep_or_close(session)
            raise
        except BaseException:
            _close(session)
            raise
        self._put_back(session)

    def close(self) -> None:
        """End every idle session politely (QUIT)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for session, _ in idle:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                session.quit()
            _close(session)

    def _open(self) -> smtplib.SMTP:
        session = smtplib.SMTP(self.server.host, self.server.port, timeout=self.timeout_s)
        try:
            if self.server.starttls:
                session.starttls()
            if self.server.username and self.server.password:
                session.login(self.server.username, self.server.password)
        except BaseException:
            _close(session)
            raise
        self.opened += 1
        return session

    def _take(self) -> smtplib.SMTP | None:
        now = time.monotonic()
        stale: list[smtplib.SMTP] = []
        taken: smtplib.SMTP | None = None
        with self._lock:
            while self._idle:
                session, since = self._idle.pop()
                if now - since <= self.max_idle_s:
                    taken = session
                    break
                stale.append(session)
        for session in stale:
            _close(session)
        return taken

    def _keep_or_close(self, session: smtplib.SMTP) -> None:
        try:
            session.rset()
        except (smtplib.SMTPException, OSError):
            _close(session)
            return
        self._put_back(session)

    def _put_back(self, session: smtplib.SMTP) -> None:
        with self._lock:
            if len(self._idle) < self.size:
                self._idle.append((session, time.monotonic()))
                return
        with contextlib.suppress(smtplib.SMTPException, OSError):
            session.quit()
        _close(session)


def _close(session: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError):
        session.close()
