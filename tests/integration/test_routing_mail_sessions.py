"""Reps' emails reuse open SMTP sessions (services/routing/mail.py), against a real SMTP server
(aiosmtpd): one session carries many messages, a session the server timed out is replaced
without losing the message, and a refused message leaves its session usable."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage

import pytest

from services.routing.mail import SmtpSessions
from services.routing.policy import SmtpServer
from tests.support.notify import smtp_server


def _message(to: str, n: int) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "baton@example.com"
    message["To"] = to
    message["Subject"] = f"Lead {n} is yours"
    message.set_content("Call them now.")
    return message


async def test_many_emails_share_the_pooled_sessions() -> None:
    async with smtp_server() as mailbox:
        sessions = SmtpSessions(
            SmtpServer(mailbox.host, mailbox.port, "baton@example.com"), timeout_s=5, size=2
        )
        try:
            await asyncio.gather(
                *(asyncio.to_thread(sessions.send, _message(f"r{n}@example.com", n)) for n in range(20))
            )
        finally:
            await asyncio.to_thread(sessions.close)
    assert sorted(str(m["Subject"]) for _, m, _ in mailbox.messages) == sorted(
        f"Lead {n} is yours" for n in range(20)
    )
    # At most as many sessions as ran side by side (the thread pool's width), far fewer than messages.
    assert len(set(mailbox.peers)) == sessions.opened < 20


async def test_a_session_the_server_timed_out_is_replaced_and_the_message_still_goes() -> None:
    async with smtp_server(idle_timeout_s=0.3) as mailbox:
        sessions = SmtpSessions(SmtpServer(mailbox.host, mailbox.port, "baton@example.com"), timeout_s=5)
        try:
            await asyncio.to_thread(sessions.send, _message("ada@example.com", 1))
            await asyncio.sleep(1.0)  # the server answers 421 and hangs up on the idle session
            await asyncio.to_thread(sessions.send, _message("ada@example.com", 2))
        finally:
            await asyncio.to_thread(sessions.close)
    assert [str(m["Subject"]) for m in mailbox.to("ada@example.com")] == [
        "Lead 1 is yours",
        "Lead 2 is yours",
    ]
    assert sessions.opened == 2


async def test_a_refused_message_raises_and_its_session_goes_on() -> None:
    async with smtp_server() as mailbox:
        sessions = SmtpSessions(SmtpServer(mailbox.host, mailbox.port, "baton@example.com"), timeout_s=5)
        try:
            await asyncio.to_thread(sessions.send, _message("ada@example.com", 1))
            mailbox.unknown.add("gone@example.com")
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                await asyncio.to_thread(sessions.send, _message("gone@example.com", 2))
            await asyncio.to_thread(sessions.send, _message("bob@example.com", 3))
        finally:
            await asyncio.to_thread(sessions.close)
    assert [rcpt for rcpt, _, _ in mailbox.messages] == [["ada@example.com"], ["bob@example.com"]]
    assert len(set(mailbox.peers)) == sessions.opened == 1
