"""Request dependencies: who may read the reports, and which leads a report covers."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import Depends, Query, Request

from services.feedback.errors import ConflictingFilters, InvalidPeriod
from services.feedback.repository import FactFilter
from services.feedback.settings import FeedbackSettings
from shared.auth import Principal, Role, require_roles

ReaderDep = Annotated[Principal, Depends(require_roles(Role.MANAGER, Role.MARKETING, Role.SALES))]


def report_filter(
    channel: Annotated[
        str | None,
        Query(
            max_length=200,
            description="The channel the lead came in through, as ingest names it: `form`, or the "
            "webhook provider's name (`linkedin`, `facebook`…). Not the UTM source: see `utm_source`.",
        ),
    ] = None,
    source: Annotated[
        str | None,
        Query(
            max_length=200,
            deprecated=True,
            description="Deprecated: the old name of `channel` (it never meant the UTM source).",
        ),
    ] = None,
    utm_source: Annotated[
        str | None,
        Query(max_length=200, description="The lead's `utm_source` at ingestion (`google`, `newsletter`…)."),
    ] = None,
    form_id: Annotated[str | None, Query(max_length=200, description="The form the lead submitted.")] = None,
    campaign: Annotated[
        str | None, Query(max_length=300, description="The lead's `utm_campaign` at ingestion.")
    ] = None,
    rubric_version: Annotated[
        str | None,
        Query(
            max_length=64,
            description="The rubric version that judged the lead (the one that made it an MQL, else "
            "its latest score).",
        ),
    ] = None,
    rep_id: Annotated[uuid.UUID | None, Query(description="The rep the lead is assigned to.")] = None,
    from_: Annotated[
        date | None, Query(alias="from", description="First day (UTC) of ingestion, inclusive.")
    ] = None,
    to: Annotated[date | None, Query(description="Last day (UTC) of ingestion, inclusive.")] = None,
) -> FactFilter:
    if from_ is not None and to is not None and to < from_:
        raise InvalidPeriod(f"'to' ({to}) is before 'from' ({from_})")
    if channel is not None and source is not None and channel != source:
        raise ConflictingFilters(
            f"'source' is the deprecated name of 'channel'; they disagree ({source!r}, {channel!r}): "
            "pass 'channel' alone, and 'utm_source' for the UTM source"
        )
    return FactFilter(
        source=channel if channel is not None else source,
        utm_source=utm_source,
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
