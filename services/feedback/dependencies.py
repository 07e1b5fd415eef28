"""Request dependencies: who may read the reports, and which leads a report covers."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import Depends, Query, Request

from services.feedback.errors import InvalidPeriod
from services.feedback.repository import FactFilter
from services.feedback.settings import FeedbackSettings
from shared.auth import Principal, Role, require_roles

ReaderDep = Annotated[Principal, Depends(require_roles(Role.MANAGER, Role.MARKETING, Role.SALES))]


def report_filter(
    source: Annotated[str | None, Query(max_length=200)] = None,
    form_id: Annotated[str | None, Query(max_length=200)] = None,
    campaign: Annotated[str | None, Query(max_length=300)] = None,
    rubric_version: Annotated[str | None, Query(max_length=64)] = None,
    rep_id: uuid.UUID | None = None,
    from_: Annotated[
        date | None, Query(alias="from", description="First day (UTC) of ingestion, inclusive.")
    ] = None,
    to: Annotated[date | None, Query(description="Last day (UTC) of ingestion, inclusive.")] = None,
) -> FactFilter:
    if from_ is not None and to is not None and to < from_:
        raise InvalidPeriod(f"'to' ({to}) is before 'from' ({from_})")
    return FactFilter(
        source=source,
        form_id=form_id,
        campaign=campaign,
        rubric_version=rubric_version,
        rep_id=rep_id,
        ingested_from=_midnight(from_) if from_ else None,
        ingested_before=_midnight(to + timedelta(days=1)) if to else None,
    )


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


FilterDep = Annotated[FactFilter, Depends(report_filter)]


def feedback_settings(request: Request) -> FeedbackSettings:
    settings: FeedbackSettings = request.app.state.settings
    return settings


SettingsDep = Annotated[FeedbackSettings, Depends(feedback_settings)]
