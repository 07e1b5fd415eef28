"""Feedback's report endpoints document every query parameter they take: a reader learns from the
OpenAPI, not from the source, that `channel` is the channel and `utm_source` the UTM source."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import TEST_JWT_SECRET


# Built once for the module: the tests only read it, and building the app took a second each.
@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("BATON_DATABASE_URL", "postgresql+asyncpg://unit@127.0.0.1:1/unit")
        monkeypatch.setenv("BATON_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
        monkeypatch.setenv("BATON_JWT_SECRET", TEST_JWT_SECRET)
        from services.feedback.main import create_app

        return create_app().openapi()


def query_parameters(document: dict[str, Any], path: str) -> dict[str, dict[str, Any]]:
    parameters = document["paths"][path]["get"].get("parameters", [])
    return {p["name"]: p for p in parameters if p["in"] == "query"}


REPORTS = (
    "/v1/funnel",
    "/v1/funnel.csv",
    "/v1/funnel/groups",
    "/v1/funnel/groups.csv",
    "/v1/speed-to-lead",
    "/v1/sla/first-touch",
    "/v1/sla/mql-delivery",
    "/v1/reasons",
    "/v1/reports/attribution",
    "/v1/reports/reverse-funnel",
)


@pytest.mark.parametrize("path", REPORTS)
def test_every_query_parameter_is_typed_and_described(openapi: dict[str, Any], path: str) -> None:
    params = query_parameters(openapi, path)
    assert {
        "channel",
        "source",
        "utm_source",
        "campaign",
        "form_id",
        "rubric_version",
        "rep_id",
        "from",
        "to",
    } <= set(params)
    for name, param in params.items():
        assert param.get("description"), f"{path} ?{name} has no description"
        assert param["schema"], name


def test_channel_is_the_channel_and_source_its_deprecated_alias(openapi: dict[str, Any]) -> None:
    params = query_parameters(openapi, "/v1/funnel")
    assert params["source"].get("deprecated") is True
    assert "channel" in params["source"]["description"]
    assert "form" in params["channel"]["description"]
    assert "UTM" in params["channel"]["description"]
    assert not params["utm_source"].get("deprecated")
