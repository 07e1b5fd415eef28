"""The consumer batch's statements as asyncpg takes them."""

from __future__ import annotations

from services.scoring.driver import positional
from services.scoring.lead_repository import _ADD_WITH_HISTORIES_SQL, _MERGE_SQL
from services.scoring.repository import _BATCH_WRITES_SQL


class TestPositional:
    def test_named_parameters_are_numbered_in_order_of_first_use(self) -> None:
        sql, names = positional("SELECT :b, CAST(:a AS int[]), :b, NULL::bigint")
        assert sql == "SELECT $1, CAST($2 AS int[]), $1, NULL::bigint"
        assert names == ("b", "a")

    def test_the_rounds_statements_keep_no_named_parameter(self) -> None:
        for statement in (_MERGE_SQL, _ADD_WITH_HISTORIES_SQL, _BATCH_WRITES_SQL):
            sql, names = positional(statement)
            assert names
            assert positional(sql)[1] == ()
