"""The batch handler's pure parts: a profile built from a merge's row without validating it again."""

from __future__ import annotations

import uuid

from services.scoring.batch import profile_of
from services.scoring.lead_repository import ProfileRecord
from services.scoring.service import to_profile


def record(**fields: object) -> ProfileRecord:
    values: dict[str, object] = dict.fromkeys(ProfileRecord._fields)
    values.update({"lead_id": uuid.uuid4(), "utm": {}, "attributes": {}, **fields})
    return ProfileRecord(**values)  # type: ignore[arg-type]


class TestProfileOf:
    def test_it_is_the_validated_profile(self) -> None:
        row = record(
            email="ada@example.com",
            job_title="CTO",
            company_size=200,
            consent=True,
            utm={"source": "x"},
            attributes={"state": "CA"},
        )
        built, validated = profile_of(row), to_profile(row)
        assert built == validated
        assert built.model_dump() == validated.model_dump()
        assert built.email_domain == "example.com"
        assert built.value_of("attributes.state") == "CA"

    def test_an_empty_profile_is_the_validated_one(self) -> None:
        row = record()
        assert profile_of(row) == to_profile(row)
