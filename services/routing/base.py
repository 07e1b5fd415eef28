"""The declarative base of every routing table, in the `routing` schema. Its own module so the
table modules (`models`, `outbound_models`, `brief_models`) import it without importing each other."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from shared.db import service_metadata

SCHEMA = "routing"


class Base(DeclarativeBase):
    metadata = service_metadata(SCHEMA)
