"""Request dependencies: who may call what, and as whom."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.routing.access import Actor
from services.routing.repository import RepRepository
from services.routing.rule_versions import ActiveRules
from shared.auth import Forbidden, Principal, Role, require_roles
from shared.runtime import SessionDep


async def _with_rep_record(session: AsyncSession, principal: Principal) -> Principal:
    """A rep whose token names no `rep_id`, matched to their rep record by email.

    Identity providers send an email, not Baton's rep id (`shared/oidc.py`); the email is only
    set when the provider did not mark it unverified."""
    if principal.role != Role.REP or principal.rep_id is not None or principal.email is None:
        return principal
    rep = await RepRepository(session).by_email(principal.email)
    if rep is None:
        raise Forbidden("no rep is registered with the email your token carries")
    return principal.model_copy(update={"rep_id": rep.id})


_rep_or_manager = require_roles(Role.REP, Role.MANAGER)
_reader = require_roles(Role.REP, Role.MANAGER, Role.SALES, Role.MARKETING)


# Module-level functions, not closures: FastAPI resolves these string annotations in module globals.
async def _rep_or_manager_with_record(
    principal: Annotated[Principal, Depends(_rep_or_manager)], session: SessionDep
) -> Principal:
    return await _with_rep_record(session, principal)


async def _reader_with_record(
    principal: Annotated[Principal, Depends(_reader)], session: SessionDep
) -> Principal:
    return await _with_rep_record(session, principal)


ManagerDep = Annotated[Principal, Depends(require_roles(Role.MANAGER))]
RepOrManagerDep = Annotated[Principal, Depends(_rep_or_manager_with_record)]
PreviewerDep = Annotated[Principal, Depends(require_roles(Role.MANAGER, Role.SALES, Role.MARKETING))]
ReaderDep = Annotated[Principal, Depends(_reader_with_record)]


def acting_rep(principal: Principal) -> uuid.UUID | None:
    """The rep whose assignments bound what the caller may see and do; None means any rep's."""
    if principal.role != Role.REP:
        return None
    if principal.rep_id is None:
        raise Forbidden("a rep token must carry a rep_id or the email of a registered rep")
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
