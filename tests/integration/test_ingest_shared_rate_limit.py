"""The form rate limit with `form_rate_limit_store=postgres`: replicas share one limit."""

from __future__ import annotations

from contextlib import AsyncExitStack
from functools import partial
from typing import Any

import httpx
from sqlalchemy import text

from services.ingest.dependencies import Protection
from services.ingest.main import create_app
from services.ingest.settings import IngestSettings
from services.ingest.shared_rate_limit import SharedWindowLimit, prune_windows
from shared.db import Database
from tests.conftest import Infra
from tests.support.ingest import BROWSER, configure_form, ingest_client, staged
from tests.support.waiting import wait_until

# A day-long window with no refill: the limit is the burst, and the test never straddles a window.
SHARED: dict[str, Any] = {
    "form_rate_limit_store": "postgres",
    "form_rate_limit_per_minute": 0,
    "form_rate_limit_burst": 4,
    "form_rate_limit_window_s": 86_400,
    "form_rate_limit_sync_s": 0.05,
}


def _every_view_is(limits: list[SharedWindowLimit], client: str, accepted: int) -> bool:
    # A replica the client has not posted to yet has no view of it (it counts on its first post).
    return all(limit.seen(client) == accepted for limit in limits if limit.seen(client))


class TestSharedFormRateLimit:
    async def test_two_replicas_refuse_a_client_once_the_shared_limit_is_reached(
        self, db: Database, settings_env: Infra
    ) -> None:
        apps = [create_app(IngestSettings(**SHARED)) for _ in range(2)]
        limits: list[SharedWindowLimit] = []
        for app in apps:
            protection: Protection = app.state.protection
            assert isinstance(protection.per_client, SharedWindowLimit)
            limits.append(protection.per_client)
        client = BROWSER[0]
        async with AsyncExitStack() as stack:
            replicas: list[httpx.AsyncClient] = [
                await stack.enter_async_context(ingest_client(app)) for app in apps
            ]
            await configure_form(replicas[0], "shared")
            answers: list[httpx.Response] = []
            for i in range(6):
                answer = await replicas[i % 2].post(
                    "/v1/forms/shared/submissions", json={"email": f"a{i}@example.com"}
                )
                answers.append(answer)
                accepted = sum(a.status_code == 202 for a in answers)
                # Each replica that saw the client has synced and read back the shared total.
                await wait_until(
                    partial(_every_view_is, limits, client, accepted),
                    what=f"both replicas count {accepted} posts",
                )

        # Alone, each replica would have admitted 4 (8 in all).
        assert [a.status_code for a in answers] == [202] * 4 + [429] * 2
        refused = answers[4]
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["type"].endswith("rate-limited")
        assert 1 <= int(refused.headers["retry-after"]) <= 3600
        assert len(await staged(db)) == 4
        async with db.transaction() as session:
            counted = (
                await session.execute(
                    text("SELECT count FROM ingest.rate_limit_window WHERE client_key = :k"), {"k": client}
                )
            ).scalar_one()
        assert counted == 4

    async def test_ended_windows_are_pruned(self, db: Database, settings_env: Infra) -> None:
        limit = SharedWindowLimit(per_minute=0, burst=2, window_s=60, clock=lambda: 1_000_000.0)
        assert limit.take("203.0.113.9") == 0
        async with db.transaction() as session:
            await limit.sync(session)
        async with db.transaction() as session:
            assert await prune_windows(session, window_s=60) == 1
            left = (await session.execute(text("SELECT count(*) FROM ingest.rate_limit_window"))).scalar_one()
        assert left == 0
