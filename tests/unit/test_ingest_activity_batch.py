"""A wholly valid activity batch, validated straight from its JSON, gives the items the per-item
path gives; a batch with any invalid item is left to the per-item path."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from services.ingest.schemas import ActivityBatch, ActivityCreate, ValidActivityBatch

ITEMS: list[dict[str, Any]] = [
    {"type": "page_view", "visitor_id": " v-1 ", "url": "https://x.example/p?utm_source=ads"},
    {"type": "email_click", "email": "Ada@Example.COM", "name": "newsletter"},
    {
        "type": "custom",
        "email": "grace@example.org",
        "visitor_id": "v-2",
        "occurred_at": "2026-01-02T03:04:05.678+02:00",
        "properties": {"plan": "pro", "seats": 12, "ratio": 0.5, "trial": True, "big": 10**20},
    },
    {"type": "pricing_page_view", "visitor_id": "v-3", "occurred_at": 1767225600},
]


def per_item(body: bytes) -> list[ActivityCreate]:
    batch = ActivityBatch.model_validate(json.loads(body))
    return [ActivityCreate.model_validate(item) for item in batch.events]


def test_a_valid_batch_validates_as_its_items_do() -> None:
    body = json.dumps({"events": ITEMS, "ignored": 1}).encode()
    assert ValidActivityBatch.model_validate_json(body).events == per_item(body)


@pytest.mark.parametrize(
    "body",
    [
        {"events": [*ITEMS, {"type": "page_view"}]},
        {"events": [*ITEMS, {"type": "nope", "visitor_id": "v"}]},
        {"events": [*ITEMS, {"type": "page_view", "visitor_id": "v", "occurred_at": "2026-01-02T03:04:05"}]},
        {"events": [*ITEMS, "not an object"]},
        {"events": []},
        {"events": ITEMS * 251},
        [ITEMS],
    ],
)
def test_a_batch_with_anything_invalid_is_left_to_the_per_item_path(body: Any) -> None:
    with pytest.raises(ValidationError):
        ValidActivityBatch.model_validate_json(json.dumps(body))
