"""`FormCors` alone, as an ASGI middleware around a stand-in route: which requests it touches and
what it adds to their answers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from services.ingest.cors import FormCors

SITE = "https://www.example.com"


async def route(scope: Any, receive: Any, send: Any) -> None:
    headers = [(b"content-type", b"application/json"), (b"vary", b"Accept-Encoding")]
    await send({"type": "http.response.start", "status": 202, "headers": headers})
    await send({"type": "http.response.body", "body": b'{"lead_id": "x"}\n'})


async def origins(form_id: str) -> Sequence[str] | None:
    return [SITE] if form_id == "demo" else None


async def post(path: str, **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=FormCors(route, form_origins=origins))
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
        return await client.post(path, json={}, headers=headers)


async def test_the_answer_keeps_the_routes_own_vary() -> None:
    response = await post("/v1/forms/demo/submissions", origin=SITE)
    assert response.headers["vary"] == "Accept-Encoding, Origin"
    assert response.headers["access-control-allow-origin"] == SITE


async def test_other_paths_and_posts_without_an_origin_pass_untouched() -> None:
    for response in (
        await post("/v1/forms", origin=SITE),
        await post("/v1/forms/demo/submissions"),
        await post("/v1/forms/demo/submissions/extra", origin=SITE),
    ):
        assert response.headers["vary"] == "Accept-Encoding"
        assert "access-control-allow-origin" not in response.headers
