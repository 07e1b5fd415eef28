"""The baselines ingest's form posts are set against, each parsing the same form body as ingest.

`app` does nothing else. `durable_app` also stores each post before it answers: one INSERT of
the body, in its own transaction, through an asyncpg pool (no broker, no de-duplication, no
outbox): the least any endpoint can do whose 202 means the post survives a crash, so ingest's
ratio to it says how much of ingest's distance to `app` is durability itself.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qs, urlparse

import asyncpg
from fastapi import FastAPI, Request

from services.ingest.schemas import FormSubmissionCreate

app = FastAPI()


@app.post("/v1/forms/{form_id}/submissions", status_code=202)
async def submit(form_id: str, request: Request) -> dict[str, str | None]:
    submission = FormSubmissionCreate.model_validate(await request.json())
    return {"form_id": form_id, "email": submission.email}


@asynccontextmanager
async def _pool(durable: FastAPI) -> AsyncIterator[None]:
    host = parse_qs(urlparse(os.environ["BATON_DATABASE_URL"]).query)["host"][0]
    durable.state.pool = await asyncpg.create_pool(
        host=host, user="postgres", database="postgres", min_size=10, max_size=10
    )
    # Several workers may race to create it; whichever loses finds it there.
    with contextlib.suppress(asyncpg.UniqueViolationError, asyncpg.DuplicateTableError):
        await durable.state.pool.execute(
            "CREATE TABLE IF NOT EXISTS public.bench_post (id bigserial PRIMARY KEY, form_id text, body bytea)"
        )
    try:
        yield
    finally:
        await durable.state.pool.close()


durable_app = FastAPI(lifespan=_pool)


@durable_app.post("/v1/forms/{form_id}/submissions", status_code=202)
async def submit_durably(form_id: str, request: Request) -> dict[str, str | None]:
    submission = FormSubmissionCreate.model_validate(await request.json())
    await request.app.state.pool.execute(
        "INSERT INTO public.bench_post (form_id, body) VALUES ($1, $2)", form_id, await request.body()
    )
    return {"form_id": form_id, "email": submission.email}
