"""The consumer batch's statements as asyncpg takes them."""

from __future__ import annotations

from services.scoring.lead_repository import _ADD_WITH_HISTORIES_SQL, _MERGE_SQL
from services.scoring.repository import _BATCH_WRITES_SQL
from shared.session_driver import positional


class TestPositional:
    def test_the_rounds_statements_keep_no_named_parameter(self) -> None:
        for statement in (_MERGE_SQL, _ADD_WITH_HISTORIES_SQL, _BATCH_WRITES_SQL):
            sql, names = positional(statement)
            assert names
            assert positional(sql)[1] == ()
