"""yamllint over the compose file, the chart's plain YAML and the rendered manifests."""

from __future__ import annotations

from pathlib import Path

from tests.platform.tooling import CHART, REPO, Rendered, run, venv_tool

CONFIG = REPO / "deploy" / ".yamllint"


def _yamllint(*paths: Path) -> tuple[int, str]:
    result = run([venv_tool("yamllint"), "--strict", "-c", str(CONFIG), *map(str, paths)])
    return result.returncode, result.stdout + result.stderr


def test_compose_and_deploy_yaml_are_lint_clean() -> None:
    plain = [p for p in (REPO / "deploy").rglob("*.y*ml") if "templates" not in p.parts]
    assert CHART / "values.yaml" in plain
    code, output = _yamllint(REPO / "docker-compose.yml", *plain)
    assert code == 0, output


def test_rendered_manifests_are_lint_clean(rendered: Rendered, tmp_path: Path) -> None:
    manifest = tmp_path / f"rendered-{Path(rendered.values_file).name}"
    manifest.write_text(rendered.text)
    code, output = _yamllint(manifest)
    assert code == 0, output


def test_yamllint_catches_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("services:\n  ingest:\n    image: baton\n    image: again\n")
    code, output = _yamllint(broken)
    assert code != 0
    assert "duplication of key" in output
