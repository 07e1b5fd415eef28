"""Routing's tables, in the `routing` schema."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from shared.db import service_metadata
from shared.outbox import outbox_table, processed_event_table

SCHEMA = "routing"


class Base(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


outbox = outbox_table(Base.metadata)
processed_event = processed_event_table(Base.metadata)
