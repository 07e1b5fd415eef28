"""Every service consumes exactly what the shared topology says (which drives ACLs and KEDA)."""

from __future__ import annotations

import importlib

import pytest

from baton.services import SERVICES
from shared.consumer_groups import fetch_max_wait_ms, group_handlers
from shared.contracts.topics import EVENT_TOPICS, TOPOLOGY


@pytest.mark.parametrize("service", SERVICES)
def test_service_handlers_match_the_topology(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Building an app connects to nothing, so placeholder addresses are enough here.
    monkeypatch.setenv("BATON_DATABASE_URL", "postgresql+asyncpg://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("BATON_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv("BATON_JWT_SECRET", "unit-test-secret-" + "y" * 32)
    app = importlib.import_module(f"services.{service}.main").create_app()
    assert set(app.state.runtime.handlers) == TOPOLOGY[service].consumes


def test_every_topic_is_produced_by_exactly_one_service() -> None:
    producers = [topic for flow in TOPOLOGY.values() for topic in flow.produces]
    assert sorted(producers) == sorted(EVENT_TOPICS)


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        ("scoring", {"baton-scoring": 40}),
        ("routing", {"baton-routing": 40, "baton-routing-followup": 250}),
        ("feedback", {"baton-feedback": 250}),
    ],
)
def test_groups_whose_work_can_wait_fetch_at_the_patient_pace(
    service: str, expected: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An assignment's path (scoring's group, routing's own) is held 40 ms at most; the lanes
    and the read model wait longer, so an idle embedded broker answers fewer empty fetches."""
    monkeypatch.setenv("BATON_DATABASE_URL", "postgresql+asyncpg://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("BATON_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv("BATON_JWT_SECRET", "unit-test-secret-" + "y" * 32)
    monkeypatch.setenv("BATON_CONSUMER_PATIENT_FETCH_MAX_WAIT_MS", "250")
    runtime = importlib.import_module(f"services.{service}.main").create_app().state.runtime
    groups = group_handlers(runtime.settings, runtime.handlers)
    assert {group: fetch_max_wait_ms(runtime.settings, group) for group in groups} == expected
