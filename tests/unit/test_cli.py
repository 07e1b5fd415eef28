"""The `baton` command's arguments: what it refuses before it does anything."""

from __future__ import annotations

import uuid
from pathlib import Path

import jwt
import pytest

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
