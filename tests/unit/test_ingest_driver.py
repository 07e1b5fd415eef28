"""The intake's statements as asyncpg takes them, and the key records they stage themselves."""

from __future__ import annotations

import uuid

from services.ingest.key_repository import KEY_RECORD_HEADERS
from shared.contracts import utc_now
from shared.outbox import lead_key_columns
from shared.session_driver import positional


class TestPositional:
    def test_named_parameters_are_numbered_in_order_of_first_use(self) -> None:
        sql, names = positional("SELECT :b, CAST(:a AS int[]), :b, NULL::bigint")
        assert sql == "SELECT $1, CAST($2 AS int[]), $1, NULL::bigint"
        assert names == ("b", "a")


class TestKeyRecordHeaders:
    def test_they_are_the_headers_the_outbox_gives_a_key_record(self) -> None:
        [headers] = lead_key_columns([(uuid.uuid4(), b"k" * 32)], at=utc_now())["headers"]
        assert headers == KEY_RECORD_HEADERS
