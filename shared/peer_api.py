"""Reading another service's HTTP API on a person's behalf: their own bearer token is forwarded,
so a page shows exactly what that reader may see there, and the reading service holds no
credentials of its own. Any failure of the other side is one problem (a 502) naming it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx

from shared.problems import Problem

Get = Callable[[str], Awaitable[Any]]


class PeerApi:
    def __init__(
        self,
        base_url: str,
        *,
        authorization: str,
        peer: str,
        unavailable: type[Problem],
        timeout_s: float = 5.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": authorization}
        self.peer = peer
        self.unavailable = unavailable
        self.timeout_s = timeout_s

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Get]:
        """A `get(path)` that answers the JSON of a 200 and raises `unavailable` otherwise."""
        async with httpx.AsyncClient(
            base_url=self.base_url, headers=self.headers, timeout=self.timeout_s
        ) as client:

            async def get(path: str) -> Any:
                try:
                    response = await client.get(path)
                except httpx.HTTPError as exc:
                    raise self.unavailable(
                        f"{self.peer} did not answer {path}: {type(exc).__name__}"
                    ) from exc
                if response.status_code != 200:
                    raise self.unavailable(f"{self.peer} answered {response.status_code} to {path}")
                return response.json()

            yield get
