"""The `baton` command's arguments: what it refuses before it does anything."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
import uvicorn

from baton.cli import main

SECRET = "a-development-secret-of-enough-length-for-hs256"


class TestToken:
    def test_a_rep_token_without_a_rep_id_is_refused_with_what_to_pass(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.setenv("BATON_JWT_SECRET", SECRET)
        with pytest.raises(SystemExit) as refused:
            main(["token", "rep", "--home", str(tmp_path)])
        assert "a rep token needs --rep-id" in str(refused.value.code)
        assert str(tmp_path / "local.json") in str(refused.value.code)
        assert capsys.readouterr().out == ""

    def test_a_rep_token_carries_the_rep_id(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.setenv("BATON_JWT_SECRET", SECRET)
        rep_id = uuid.uuid4()
        assert main(["token", "rep", "--rep-id", str(rep_id)]) == 0
        claims = jwt.decode(capsys.readouterr().out.strip(), SECRET, algorithms=["HS256"], audience="baton")
        assert claims["rep_id"] == str(rep_id)
        assert claims["baton_role"] == "rep"

    def test_other_roles_need_no_rep_id(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.setenv("BATON_JWT_SECRET", SECRET)
        assert main(["token", "manager"]) == 0
        assert capsys.readouterr().out.count(".") == 2


class TestServe:
    @pytest.fixture
    def served(self, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
        """What `baton serve` hands uvicorn, without starting it."""
        calls: dict[str, Any] = {}

        def run(app: str, **options: Any) -> None:
            calls.update(options, app=app)

        monkeypatch.setattr(uvicorn, "run", run)
        return calls

    def test_a_service_serves_its_app_on_its_port(self, served: dict[str, Any]) -> None:
        assert main(["serve", "routing"]) == 0
        assert served["app"] == "services.routing.main:create_app"
        assert served["port"] == 8003

    def test_routings_senders_serve_their_own_app_on_their_own_port(self, served: dict[str, Any]) -> None:
        assert main(["serve", "routing", "--role", "senders"]) == 0
        assert served["app"] == "services.routing.main:create_senders_app"
        assert served["port"] == 8013
        assert main(["serve", "routing", "--role", "senders", "--port", "9013"]) == 0
        assert served["port"] == 9013

    def test_a_role_the_service_does_not_have_is_refused_with_its_roles(self, served: dict[str, Any]) -> None:
        with pytest.raises(SystemExit) as refused:
            main(["serve", "scoring", "--role", "senders"])
        assert str(refused.value.code) == "baton: scoring has no role 'senders'; its roles: none"
        with pytest.raises(SystemExit) as refused:
            main(["serve", "routing", "--role", "sender"])
        assert "its roles: senders" in str(refused.value.code)
        assert served == {}
