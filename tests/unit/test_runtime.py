"""What /readyz answers for each state of a service's parts (the states and nothing more), and
how the shutdown budget and the PgBouncer mode are read from the environment."""

from __future__ import annotations

import logging
import time

import pytest

from shared.db import Database, pgbouncer_connect_args
from shared.runtime import ServiceRuntime, StopBudget, readiness
from shared.settings import ServiceSettings, ShutdownSettings

ALL_OK = {"database": "ok", "broker": "ok", "outbox_relay": "ok", "consumer": "ok", "sla_worker": "ok"}


class TestReadiness:
    def test_every_part_ok_is_ready(self) -> None:
        assert readiness(ALL_OK) == ("ready", 200)

    @pytest.mark.parametrize(
        ("part", "state"),
        [
            ("broker", "connecting"),
            ("broker", "unavailable"),
            ("consumer", "connecting"),
            ("consumer", "joining group"),
        ],
    )
    def test_a_missing_broker_only_degrades_a_service_that_still_takes_work(
        self, part: str, state: str
    ) -> None:
        assert readiness({**ALL_OK, part: state}) == ("degraded", 200)

    @pytest.mark.parametrize(
        ("part", "state"),
        [
            ("database", "unavailable"),
            ("outbox_relay", "stopped"),
            ("consumer", "stopped"),
            ("consumer", "stuck: one pass has run for 75 s"),
            ("sla_worker", "stopped"),
        ],
    )
    def test_a_database_outage_or_a_dead_task_takes_the_pod_out_of_its_service(
        self, part: str, state: str
    ) -> None:
        assert readiness({**ALL_OK, part: state}) == ("unavailable", 503)


class TestReadyzSaysNoMoreThanAState:
    async def test_an_unreachable_database_is_unavailable_and_its_reason_stays_in_the_log(
        self, offline_settings: None, caplog: pytest.LogCaptureFixture
    ) -> None:
        # /readyz answers anyone who reaches the port: the driver's error (which can name hosts,
        # users and paths) goes to the log, and the answer carries the state word alone.
        settings = ServiceSettings(database_url="postgresql+asyncpg://baton:hunter2@127.0.0.1:1/baton")
        runtime = ServiceRuntime(settings, outbox=None)
        runtime.db = Database(settings.database_url)
        try:
            with caplog.at_level(logging.WARNING, logger="shared.runtime"):
                checks = await runtime.check_ready()
        finally:
            await runtime.db.dispose()
        assert checks == {"database": "unavailable", "broker": "connecting"}
        assert readiness(checks) == ("unavailable", 503)
        assert [r.getMessage() for r in caplog.records] == ["runtime.database_unavailable"]


class TestShutdownBudget:
    def test_uvicorn_drains_for_a_quarter_and_the_stops_share_the_rest(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("BATON_SHUTDOWN_BUDGET_SECONDS", "60")
        settings = ShutdownSettings()
        assert settings.drain_seconds == 15
        assert settings.stop_seconds == 45

    def test_each_stop_takes_a_share_of_what_is_left_and_never_nothing(self) -> None:
        budget = StopBudget(10)
        assert 4.9 < budget.share(0.5) <= 5
        budget.deadline = time.monotonic() - 1
        assert budget.remaining == 0
        assert budget.share(0.5) == 0.5


def test_pgbouncer_mode_keeps_no_statement_prepared_under_a_name_another_client_could_use() -> None:
    options = pgbouncer_connect_args()
    assert options["statement_cache_size"] == 0
    assert options["prepared_statement_cache_size"] == 0
    names = {options["prepared_statement_name_func"]() for _ in range(3)}
    assert len(names) == 3
