"""Ingest's lead view for people: what was stored for a lead, and the search that finds it."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.ingest import lead_views
from services.ingest.lead_views import LeadRead, LeadSummary
from shared.auth import Principal, Role, require_roles
from shared.runtime import SessionDep

router = APIRouter(prefix="/v1", tags=["leads"])

# Reps read what they need in routing's brief of their own leads, not every lead's raw fields.
LeadReader = Annotated[Principal, Depends(require_roles(Role.MANAGER, Role.MARKETING, Role.SALES))]


@router.get(
    "/leads",
    summary="Find leads by email (any spelling of the same inbox) or phone (normalized to E.164)",
    responses={422: {"description": "Neither `email` nor `phone` was given"}},
)
async def search_leads(
    session: SessionDep,
    _: LeadReader,
    email: Annotated[
        str | None, Query(max_length=320, description="The address, as the lead typed it.")
    ] = None,
    phone: Annotated[
        str | None, Query(max_length=50, description="The number, in any usual spelling.")
    ] = None,
    country: Annotated[
        str | None, Query(max_length=60, description="The country of a national phone number (e.g. DE).")
    ] = None,
) -> list[LeadSummary]:
    return await lead_views.search_leads(session, email=email, phone=phone, country=country)


@router.get(
    "/leads/{lead_id}",
    summary="What ingest stored for a lead: identity, first touch, submissions with their touches",
    responses={404: {"description": "No such lead"}, 410: {"description": "The lead was erased"}},
)
async def get_lead(lead_id: uuid.UUID, session: SessionDep, _: LeadReader) -> LeadRead:
    return await lead_views.get_lead(session, lead_id=lead_id)
