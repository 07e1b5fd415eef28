"""A rep signed in through an identity provider is matched to their rep record by email."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from services.routing.settings import RoutingSettings
from shared.db import Database
from tests.conftest import Infra
from tests.oidc_issuer import local_issuer
from tests.support.routing import add_rep, routing_app

pytestmark = pytest.mark.integration


async def test_a_rep_without_a_rep_id_claim_acts_as_the_rep_with_their_email(
    settings_env: Infra, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    ana, bo = f"ana-{uuid.uuid4().hex[:8]}", f"bo-{uuid.uuid4().hex[:8]}"
    async with local_issuer() as issuer:
        monkeypatch.setenv("BATON_AUTH_MODE", "oidc")
        monkeypatch.setenv("BATON_OIDC_ISSUER", issuer.issuer)
        monkeypatch.setenv("BATON_OIDC_ROLE_CLAIM", "groups")
        monkeypatch.setenv("BATON_OIDC_ROLE_MAP", json.dumps({"Sales Reps": "rep"}))
        async with routing_app(db, RoutingSettings()) as client:
            ana_id, bo_id = await add_rep(db, ana), await add_rep(db, bo)  # after the app emptied the tables

            def as_rep(email: str, **claims: Any) -> dict[str, str]:
                token = issuer.token("rsa-1", groups=["Everyone", "Sales Reps"], email=email, **claims)
                return {"Authorization": f"Bearer {token}"}

            # The provider's address differs in case from the one the rep was registered with.
            own = await client.get(f"/v1/reps/{ana_id}/queue", headers=as_rep(f"{ana.upper()}@example.com"))
            assert own.status_code == 200, own.text
            others = await client.get(f"/v1/reps/{bo_id}/queue", headers=as_rep(f"{ana}@example.com"))
            assert others.status_code == 403, others.text
            stranger = await client.get(f"/v1/reps/{ana_id}/queue", headers=as_rep("stranger@example.com"))
            assert stranger.status_code == 403
            assert "no rep is registered" in stranger.json()["detail"]
            unverified = await client.get(
                f"/v1/reps/{ana_id}/queue", headers=as_rep(f"{ana}@example.com", email_verified=False)
            )
            assert unverified.status_code == 403
            assert "rep_id or the email" in unverified.json()["detail"]
