"""Bulk import: a team adopting Baton brings its existing leads as CSV.

Each row is one submission through the one intake use case, keyed by its content (or by the
value of an id column), so running the same file again creates nothing new. Rows stand alone:
an invalid row is answered with its errors and never stops its neighbours.

`mode="live"` announces each new lead (`lead.ingested`): scored, and routed when it qualifies.
`mode="history"` records the leads in ingest only (identity, submission, touch) and announces
nothing, so nobody is assigned and no funnel counts old leads as new; a later live submission
of the same person joins the imported lead and is treated as theirs.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Mapping
from typing import Literal

from pydantic import ValidationError

from services.ingest.intake import Accepted, PreparedSubmission
from services.ingest.normalize import map_fields, to_ingested_payload
from services.ingest.schemas import FormSubmissionCreate, ImportResult, ImportRowResult
from services.ingest.service import Intake
from shared.contracts import utc_now

ImportMode = Literal["live", "history"]
SOURCE = "import"


def read_rows(text: str) -> list[dict[str, str]]:
    """The CSV's rows by their header's column names; a row's empty cells are left out."""
    reader = csv.DictReader(io.StringIO(text))
    return [{k: v for k, v in row.items() if k is not None and v not in (None, "")} for row in reader]


def row_digest(row: Mapping[str, str], *, id_column: str | None) -> str:
    """What names a row across runs: its id column's value when there is one, else its content."""
    identity = row.get(id_column, "") if id_column else ""
    seed = f"id:{identity}" if identity else "row:" + json.dumps(dict(row), sort_keys=True)
    return hashlib.sha256(seed.encode()).hexdigest()


async def import_leads(
    intake: Intake,
    *,
    csv_text: str,
    column_map: Mapping[str, str],
    mode: ImportMode = "live",
    id_column: str | None = None,
    first_row: int = 1,
    list_name: str | None = None,
) -> ImportResult:
    """Import the CSV's rows (`column_map`: column name -> Baton field; unmapped columns are kept
    as attributes). Row numbers start at `first_row` (a client sending a file in parts says
    where each part starts)."""
    results: list[ImportRowResult] = []
    prepared: list[tuple[int, PreparedSubmission]] = []
    submitted_at = utc_now()
    for number, row in enumerate(read_rows(csv_text), start=first_row):
        fields = {k: v for k, v in row.items() if k != id_column}
        try:
            submission = FormSubmissionCreate.model_validate(map_fields(fields, column_map, {}))
        except ValidationError as exc:
            errors = [
                {"loc": list(map(str, e["loc"])), "msg": e["msg"]} for e in exc.errors(include_url=False)
            ]
            results.append(ImportRowResult(row=number, status="rejected", errors=errors))
            continue
        external_id = row.get(id_column) if id_column else None
        payload = to_ingested_payload(
            list_name,
            submission,
            submitted_at=submitted_at,
            source=SOURCE,
            external_id=external_id,
        )
        stored = submission.model_dump(mode="json", exclude_none=True)
        digest = row_digest(row, id_column=id_column)
        submission_of_row = PreparedSubmission(
            payload, f"{SOURCE}:{digest}", digest, stored, body_must_match=False, publish=mode == "live"
        )
        prepared.append((number, submission_of_row))
    answers = await intake.submit_each([p for _, p in prepared])
    for (number, _), answer in zip(prepared, answers, strict=True):
        if isinstance(answer, Accepted):
            results.append(
                ImportRowResult(
                    row=number,
                    status="duplicate" if answer.duplicate else "created",
                    lead_id=answer.answer.lead_id,
                    event_id=answer.answer.event_id if mode == "live" else None,
                )
            )
        else:
            results.append(ImportRowResult(row=number, status="rejected", errors=[{"msg": answer.detail}]))
    results.sort(key=lambda r: r.row)
    return ImportResult(
        mode=mode,
        created=sum(r.status == "created" for r in results),
        duplicates=sum(r.status == "duplicate" for r in results),
        rejected=sum(r.status == "rejected" for r in results),
        rows=results,
    )
