"""docker-compose.yml: valid with the secrets set, refused without them, services gated on health."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.platform.tooling import REPO, run, venv_tool

COMPOSE = REPO / "docker-compose.yml"
SERVICES = {"ingest": 8001, "scoring": 8002, "routing": 8003, "feedback": 8004}
SECRETS = {"BATON_JWT_SECRET": "s" * 48, "POSTGRES_PASSWORD": "compose-test-password"}


def _compose(tmp_path: Path, env: dict[str, str], *args: str) -> tuple[int, str]:
    # An empty --env-file keeps a developer's .env from satisfying the required variables.
    empty_env_file = tmp_path / "empty.env"
    empty_env_file.write_text("")
    base = {key: value for key, value in os.environ.items() if key not in SECRETS}
    result = run(
        [venv_tool("docker-compose"), "-f", str(COMPOSE), "--env-file", str(empty_env_file), "config", *args],
        env={**base, **env},
    )
    return result.returncode, result.stdout + result.stderr


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    code, output = _compose(tmp_path_factory.mktemp("compose"), SECRETS, "--format", "json")
    assert code == 0, output
    parsed: dict[str, Any] = json.loads(output[output.index("{") :])
    return parsed


def test_config_is_valid_with_the_secrets_set(tmp_path: Path) -> None:
    code, output = _compose(tmp_path, SECRETS, "-q")
    assert code == 0, output


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_config_fails_clearly_without_a_secret(tmp_path: Path, missing: str) -> None:
    env = {key: value for key, value in SECRETS.items() if key != missing}
    code, output = _compose(tmp_path, env, "-q")
    assert code != 0
    assert f"required variable {missing} is missing a value: set {missing}" in output


def test_infrastructure_has_healthchecks(config: dict[str, Any]) -> None:
    services = config["services"]
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "kafka-broker-api-versions.sh" in " ".join(services["kafka"]["healthcheck"]["test"])
    assert services["postgres"]["image"] == "postgres:18"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])


def test_one_shot_jobs_wait_for_healthy_infrastructure(config: dict[str, Any]) -> None:
    services = config["services"]
    assert services["topics"]["command"] == ["topics", "--partitions", "6"]
    assert services["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for job in ("topics", "migrate"):
        assert services[job]["restart"] == "no"


@pytest.mark.parametrize(("name", "port"), sorted(SERVICES.items()))
def test_service_starts_after_the_jobs_and_checks_readiness(
    config: dict[str, Any], name: str, port: int
) -> None:
    service = config["services"][name]
    assert service["build"]["dockerfile"] == "Dockerfile"
    assert service["command"][:2] == ["serve", name]
    assert str(port) in service["command"]
    assert [p["published"] for p in service["ports"]] == [str(port)]
    assert f"127.0.0.1:{port}/readyz" in " ".join(service["healthcheck"]["test"])
    assert {dep: spec["condition"] for dep, spec in service["depends_on"].items()} == {
        "migrate": "service_completed_successfully",
        "topics": "service_completed_successfully",
    }
    assert service["read_only"] is True
    assert service["cap_drop"] == ["ALL"]
    env = service["environment"]
    assert env["BATON_JWT_SECRET"] == SECRETS["BATON_JWT_SECRET"]
    assert env["BATON_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert env["BATON_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"


def test_routings_senders_run_in_a_container_of_their_own(config: dict[str, Any]) -> None:
    services = config["services"]
    senders = services["routing-senders"]
    assert senders["command"] == [
        "serve",
        "routing",
        "--role",
        "senders",
        "--host",
        "0.0.0.0",
        "--port",
        "8013",
    ]
    assert "127.0.0.1:8013/readyz" in " ".join(senders["healthcheck"]["test"])
    assert senders["read_only"] is True
    assert (
        senders["environment"]["BATON_DATABASE_URL"]
        == services["routing"]["environment"]["BATON_DATABASE_URL"]
    )
    assert services["routing"]["environment"]["BATON_ROUTING_SENDERS"] == "separate"
