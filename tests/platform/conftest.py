"""Session fixtures of the platform tests: helm and the chart rendered with each CI values file."""

from __future__ import annotations

import pytest
import yaml

from tests.platform.tooling import CHART, VALUES_FILES, Rendered, locate_helm, render


@pytest.fixture(scope="session")
def helm() -> str:
    return locate_helm()


@pytest.fixture(scope="session", params=VALUES_FILES)
def rendered(request: pytest.FixtureRequest, helm: str) -> Rendered:
    values_file: str = request.param
    result = render(helm, "--values", str(CHART / values_file))
    assert result.returncode == 0, result.stderr
    documents = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return Rendered(values_file, documents, result.stdout)
