"""Who may act on an assignment: a rep on their own, a manager on their team's, an admin (or a
manager whose token names no team) on any."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.routing.errors import NotYourAssignment, NotYourTeam
from services.routing.repository import RepRepository


@dataclass(frozen=True)
class Actor:
    """The caller, as far as assignments go. `rep_id`: a rep, bound to their own assignments.
    `manager_id`: a manager bound to the reps whose `manager_id` it is. Neither: anyone's."""

    rep_id: uuid.UUID | None = None
    manager_id: uuid.UUID | None = None

    @property
    def is_rep(self) -> bool:
        return self.rep_id is not None


ANYONE = Actor()


async def check_may_act(session: AsyncSession, *, holder: uuid.UUID, actor: Actor) -> None:
    """Raise 403 unless `actor` may act on an assignment `holder` holds."""
    if actor.rep_id is not None and actor.rep_id != holder:
        raise NotYourAssignment("a rep may only see and act on their own assignments")
    if actor.manager_id is not None:
        await check_on_team(session, rep_id=holder, actor=actor)


async def check_on_team(session: AsyncSession, *, rep_id: uuid.UUID, actor: Actor) -> None:
    """Raise 403 when a team-bound manager names a rep outside their team."""
    if actor.manager_id is None or actor.manager_id == rep_id:
        return
    rep = await RepRepository(session).get(rep_id)
    if rep is None or rep.manager_id != actor.manager_id:
        raise NotYourTeam(f"rep {rep_id} is not on your team")
