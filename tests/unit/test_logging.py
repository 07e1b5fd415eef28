"""Structured logs keep personal data out."""

from __future__ import annotations

import logging

from shared.logging import JsonFormatter


class TestLogRedaction:
    def test_emails_and_phone_numbers_never_reach_the_log_in_clear(self) -> None:
        record = logging.makeLogRecord(
            {
                "msg": "invalid event: input_value='ada.lovelace@analytical.io' phone +44 20 7946 0958",
                "levelno": 40,
            }
        )
        line = JsonFormatter("test").format(record)
        assert "ada.lovelace" not in line
        assert "a***@analytical.io" in line
        assert "7946" not in line
