"""The embed snippet's route: the HTML a marketer pastes into a website to embed a form."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import PlainTextResponse

from services.ingest import service
from services.ingest.embed import embed_snippet
from shared.auth import Principal, Role, require_roles
from shared.runtime import SessionDep

router = APIRouter(prefix="/v1", tags=["forms"])

FormId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._-]+$")]
Configurer = Annotated[Principal, Depends(require_roles(Role.MARKETING))]


@router.get(
    "/forms/{form_id}/embed",
    summary="The HTML and JavaScript to paste into a page to embed this form (see docs/embed.md)",
    response_class=PlainTextResponse,
)
async def get_embed_snippet(
    form_id: FormId, request: Request, session: SessionDep, _: Configurer
) -> PlainTextResponse:
    form = await service.find_form(session, form_id=form_id)
    post_url = str(request.url_for("submit_form", form_id=form_id))
    # Served as text, not rendered: it is a snippet to copy, not a page of this origin.
    return PlainTextResponse(embed_snippet(form, post_url=post_url))
