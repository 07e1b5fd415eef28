"""Request dependencies: who may call what, and as whom."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request

from services.routing.access import Actor
from services.routing.rule_versions import ActiveRules
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


def actor(principal: Principal) -> Actor:
    """What bounds the caller's actions on assignments. A manager's token that carries a
    `rep_id` (their own id, the one their reps name as `manager_id`) binds them to that team;
    without one they are a manager of the whole sales floor, like an admin."""
    if principal.role == Role.REP:
        return Actor(rep_id=acting_rep(principal))
    if principal.role == Role.MANAGER and principal.rep_id is not None:
        return Actor(manager_id=principal.rep_id)
    return Actor()


def _active_rules(request: Request) -> ActiveRules:
    rules: ActiveRules = request.app.state.active_rules
    return rules


ActiveRulesDep = Annotated[ActiveRules, Depends(_active_rules)]


def _default_currency(request: Request) -> str:
    currency: str = request.app.state.runtime.settings.default_currency
    return currency


DefaultCurrencyDep = Annotated[str, Depends(_default_currency)]
