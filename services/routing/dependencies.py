"""Request dependencies: who may call what, and as whom."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from shared.auth import Forbidden, Principal, Role, require_roles

ManagerDep = Annotated[Principal, Depends(require_roles(Role.MANAGER))]
RepOrManagerDep = Annotated[Principal, Depends(require_roles(Role.REP, Role.MANAGER))]
PreviewerDep = Annotated[Principal, Depends(require_roles(Role.MANAGER, Role.SALES, Role.MARKETING))]
ReaderDep = Annotated[Principal, Depends(require_roles(Role.REP, Role.MANAGER, Role.SALES, Role.MARKETING))]


def acting_rep(principal: Principal) -> uuid.UUID | None:
    """The rep whose assignments bound what the caller may see and do; None means any rep's."""
    if principal.role != Role.REP:
        return None
    if principal.rep_id is None:
        raise Forbidden("a rep token must carry a rep_id")
    return principal.rep_id
