"""`GET /v1/audit`: a service's audit trail, for admins and managers, filtered by object and actor."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import Table

from shared.audit import AuditEntry, read_changes
from shared.auth import Principal, Role, require_roles
from shared.runtime import SessionDep

AuditReader = Annotated[Principal, Depends(require_roles(Role.MANAGER))]


def audit_router(table: Table) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["audit"])

    @router.get("/audit", summary="Who changed what and when, newest first (admin, manager)")
    async def read_audit(
        _: AuditReader,
        session: SessionDep,
        object_type: Annotated[str | None, Query(max_length=64, description="e.g. `rubric`")] = None,
        object_id: Annotated[str | None, Query(max_length=255)] = None,
        actor: Annotated[
            str | None, Query(max_length=320, description="The token subject who acted.")
        ] = None,
        before_id: Annotated[
            int | None, Query(ge=1, description="Page on: entries older than this id.")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[AuditEntry]:
        return await read_changes(
            session,
            table,
            object_type=object_type,
            object_id=object_id,
            actor=actor,
            before_id=before_id,
            limit=limit,
        )

    return router
