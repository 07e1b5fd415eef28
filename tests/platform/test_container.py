"""The Dockerfile: hadolint clean, multi-stage, non-root, read-only friendly, one image for all services."""

from __future__ import annotations

import re

from tests.platform.tooling import REPO, run, venv_tool

DOCKERFILE = REPO / "Dockerfile"


def _final_stage() -> str:
    stages = re.split(r"(?im)^FROM\s", DOCKERFILE.read_text())
    return stages[-1]


def test_dockerfile_is_hadolint_clean() -> None:
    result = run([venv_tool("hadolint"), "--failure-threshold", "info", str(DOCKERFILE)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_builds_a_wheel_in_a_separate_stage() -> None:
    text = DOCKERFILE.read_text()
    assert len(re.findall(r"(?im)^FROM\s", text)) == 2
    assert "AS builder" in text
    assert "pip wheel" in text
    assert "COPY --from=builder /opt/venv /opt/venv" in _final_stage()


def test_final_stage_runs_as_a_numeric_non_root_user_without_build_tools() -> None:
    final = _final_stage()
    user = re.search(r"(?m)^USER\s+(\S+)", final)
    assert user is not None
    assert user.group(1) in {"${BATON_UID}:${BATON_UID}", "10001:10001"}
    assert re.search(r"(?m)^ARG BATON_UID=10001$", final)
    for tool in ("apt-get", "gcc", "build-essential", "pip install", "pip wheel"):
        assert tool not in final, f"{tool} in the runtime stage"


def test_image_entrypoint_healthcheck_and_ports() -> None:
    final = _final_stage()
    assert 'ENTRYPOINT ["baton"]' in final
    assert 'CMD ["serve", "ingest"]' in final
    assert "EXPOSE 8001 8002 8003 8004" in final
    healthcheck = re.search(r"(?ms)^HEALTHCHECK.*?CMD (\[.*?\])$", final)
    assert healthcheck is not None
    assert "urllib.request" in healthcheck.group(1)
    assert "/healthz" in healthcheck.group(1)


def test_runtime_writes_only_to_tmp() -> None:
    final = _final_stage()
    assert "PYTHONDONTWRITEBYTECODE=1" in final
    assert "HOME=/tmp" in final
    assert "TMPDIR=/tmp" in final


def test_dockerignore_sends_only_the_package_sources() -> None:
    lines = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {line for line in lines if line.startswith("!")}
    assert allowed == {"!pyproject.toml", "!README.md", "!baton/", "!shared/", "!services/"}
    copied = re.findall(r"(?m)^COPY (?!--from)(.+) \S+$", DOCKERFILE.read_text())
    for sources in copied:
        for source in sources.split():
            assert f"!{source}" in allowed or f"!{source}/" in allowed, (
                f"{source} is excluded by .dockerignore"
            )
