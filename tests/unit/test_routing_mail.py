"""A rep's email written straight to the wire: what a standard parser reads back from it."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

from services.routing.mail import plain_text


def read_back(data: bytes) -> EmailMessage:
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


class TestPlainText:
    def test_headers_and_body_read_back_as_written(self) -> None:
        mail = plain_text(
            sender="Baton <baton@b.example>",
            to="ada@example.com",
            subject="New lead for you: Grace Hopper at Analytical.",
            body="Hello Ada,\n\nThe lead: https://b.example/v1/leads/" + "0" * 80 + "/assignment\n",
            message_id="42",
        )
        message = read_back(mail.data)
        assert (mail.sender, mail.to) == ("baton@b.example", "ada@example.com")
        assert (message["From"], message["To"]) == ("Baton <baton@b.example>", "ada@example.com")
        assert message["Subject"] == "New lead for you: Grace Hopper at Analytical."
        assert message["Message-ID"] == "<42@b.example>"
        assert message.get_content().replace("\r\n", "\n") == (
            "Hello Ada,\n\nThe lead: https://b.example/v1/leads/" + "0" * 80 + "/assignment\n"
        )

    def test_every_line_ends_in_crlf_and_fits_smtp(self) -> None:
        mail = plain_text(sender="b@b.example", to="a@a.example", subject="s " * 60, body="x" * 2000 + "\n")
        lines = mail.data.split(b"\r\n")
        assert b"\n" not in b"".join(lines)
        assert max(len(line) for line in lines) <= 78

    def test_names_outside_ascii_survive_in_headers_and_body(self) -> None:
        mail = plain_text(
            sender="Bätön <baton@b.example>",
            to="ada@example.com",
            subject="New lead for you: José Núñez at Café = Crème.",
            body="Qualified: naïve = café\n.a line that starts with a dot\n",
        )
        message = read_back(mail.data)
        assert message["From"] == "Bätön <baton@b.example>"
        assert message["Subject"] == "New lead for you: José Núñez at Café = Crème."
        assert (
            message.get_content().replace("\r\n", "\n")
            == "Qualified: naïve = café\n.a line that starts with a dot\n"
        )

    def test_a_line_break_in_a_lead_s_name_cannot_add_a_header(self) -> None:
        mail = plain_text(
            sender="b@b.example", to="a@a.example", subject="New lead: Eve\r\nBcc: all@corp.example", body=""
        )
        message = read_back(mail.data)
        assert message["Bcc"] is None
        assert message["Subject"] == "New lead: Eve Bcc: all@corp.example"
