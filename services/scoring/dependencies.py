from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.scoring.rubric import Rubric
from shared.auth import Principal, Role, require_roles


def _active_rubric(request: Request) -> Rubric:
    rubric: Rubric = request.app.state.rubric
    return rubric


RubricDep = Annotated[Rubric, Depends(_active_rubric)]

# Everyone inside the company may read scores and the rubric; lead sources may not.
Reader = Annotated[Principal, Depends(require_roles(Role.MANAGER, Role.REP, Role.MARKETING, Role.SALES))]
# Those who write rubrics may check drafts against the language.
RubricAuthor = Annotated[Principal, Depends(require_roles(Role.MANAGER, Role.MARKETING, Role.SALES))]
