"""The baseline: a bare FastAPI endpoint parsing the same form body as ingest, doing nothing else."""

from __future__ import annotations

from fastapi import FastAPI, Request

from services.ingest.schemas import FormSubmissionCreate

app = FastAPI()


@app.post("/v1/forms/{form_id}/submissions", status_code=202)
async def submit(form_id: str, request: Request) -> dict[str, str]:
    submission = FormSubmissionCreate.model_validate(await request.json())
    return {"form_id": form_id, "email": submission.email}
