"""A scored round's outbox rows, built straight into the columns its one write statement takes.

Every event a consumer batch scores leaves a `lead.scored`. Building it as a pydantic envelope,
validating that, dumping it and then reading it back into `shared.outbox.outbox_columns` cost
more of scoring's CPU than the rubric did. Its bytes are encoded here in one call from plain
values, the same bytes `LeadScored.model_dump_json` writes (a unit test holds them equal), and
its headers are those `outbox_columns` writes. `lead.qualified` (once per lead, and sealed when
the lead has a key) still goes through `shared.outbox.staged_columns`.
"""

from __future__ import annotations

import os
import time
import uuid
from datetime import datetime
from typing import Any

from pydantic_core import to_json
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.evaluation import Evaluation
from services.scoring.records import PRODUCER
from shared.contracts import Envelope, LeadScored, utc_now, version_7_id
from shared.contracts.topics import LEAD_SCORED, topic_for
from shared.outbox import TRACE_HEADERS_BY_CAUSE, staged_columns
from shared.tracing import inject_headers

_SCHEMA_VERSION = LeadScored.model_fields["schema_version"].default
_SCHEMA_VERSION_TEXT = str(_SCHEMA_VERSION)
_COLUMNS = ("event_id", "event_type", "topic", "key", "value", "headers", "created_at")


def scored_value(
    *,
    event_id: uuid.UUID,
    occurred_at: datetime,
    lead_id: uuid.UUID,
    evaluation: Evaluation,
    caused_by: Envelope,
    persona: str | None,
) -> bytes:
    """`lead.scored` as `LeadScored.to_bytes` encodes it: the envelope's fields, then the
    payload's, in the models' order (floats as floats, as validation would make them)."""
    return to_json(
        {
            "event_id": event_id,
            "event_type": LEAD_SCORED,
            "schema_version": _SCHEMA_VERSION,
            "occurred_at": occurred_at,
            "producer": PRODUCER,
            "correlation_id": caused_by.correlation_id,
            "causation_id": caused_by.event_id,
            "lead_id": lead_id,
            "payload": {
                "rubric_version": evaluation.rubric_version,
                "score": float(evaluation.score),
                "fit_score": float(evaluation.fit_score),
                "engagement_score": float(evaluation.engagement_score),
                "grade": evaluation.grade,
                "is_mql": evaluation.is_mql,
                "fired_rules": evaluation.fired_rules,
                "persona": persona,
            },
        }
    )


class RoundOutbox:
    """The outbox columns of one round's events, in the order they are staged."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.columns: dict[str, list[Any]] = {name: [] for name in _COLUMNS}
        # The trace each incoming event carried (a consumer batch has no current span).
        self._by_cause: dict[Any, dict[str, str]] = session.info.get(TRACE_HEADERS_BY_CAUSE) or {}
        self._current: dict[str, str] | None = None
        self._random, self._random_at = b"", 0

    def add_scored(
        self,
        lead_id: uuid.UUID,
        evaluation: Evaluation,
        *,
        caused_by: Envelope,
        persona: str | None,
        at: datetime | None = None,
    ) -> int:
        """Stage `lead.scored` for `evaluation`, caused by `caused_by`, occurring `at` (by default
        now); returns its row's index."""
        event_id, occurred_at = self._new_event_id(), at or utc_now()
        trace = self._by_cause.get(caused_by.event_id)
        if trace is None:
            trace = self._current_trace()
        # The ids as UUIDs: the JSON encoder writes their text faster than `str()` builds it.
        headers = {
            "event_type": LEAD_SCORED,
            "schema_version": _SCHEMA_VERSION_TEXT,
            "event_id": event_id,
            "correlation_id": caused_by.correlation_id,
            "producer": PRODUCER,
            "content-type": "application/json",
            **trace,
        }
        columns = self.columns
        index = len(columns["event_id"])
        columns["event_id"].append(event_id)
        columns["event_type"].append(LEAD_SCORED)
        columns["topic"].append(_SCORED_TOPIC)
        columns["key"].append(str(lead_id))
        columns["value"].append(
            scored_value(
                event_id=event_id,
                occurred_at=occurred_at,
                lead_id=lead_id,
                evaluation=evaluation,
                caused_by=caused_by,
                persona=persona,
            )
        )
        columns["headers"].append(to_json(headers).decode())
        columns["created_at"].append(occurred_at)
        return index

    def add(self, event: Envelope) -> None:
        """Stage any other event as `shared.outbox.staged_columns` would (sealed if it must be)."""
        for name, values in staged_columns(self.session, [event]).items():
            self.columns[name].extend(values)

    def _new_event_id(self) -> uuid.UUID:
        # Version 7, as every event id (`shared.contracts.new_event_id`): the consumers'
        # `processed_event` btrees take each at their right edge. `new_event_id` reads the
        # system's random source for every id, a syscall per event and costly on a loaded
        # machine; a round's ids come from one read instead.
        if self._random_at >= len(self._random):
            self._random, self._random_at = os.urandom(_RANDOM_BYTES * _IDS_PER_READ), 0
        at = self._random_at
        self._random_at = at + _RANDOM_BYTES
        return version_7_id(time.time_ns() // 1_000_000, self._random[at : at + _RANDOM_BYTES])

    def _current_trace(self) -> dict[str, str]:
        if self._current is None:
            self._current = inject_headers()
        return self._current


_SCORED_TOPIC = topic_for(LEAD_SCORED)
_IDS_PER_READ = 256
_RANDOM_BYTES = 10
