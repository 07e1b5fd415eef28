"""The committed AsyncAPI and OpenAPI documents describe the code next to them."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from baton.documents import asyncapi_document, rendered_documents
from shared.contracts.topics import EVENT_TOPICS, TOPOLOGY, consumer_groups

ROOT = Path(__file__).resolve().parents[2]


@functools.cache
def rendered() -> dict[Path, str]:
    """Every document rendered once (it builds all four apps), for collection and each test."""
    return rendered_documents()


@pytest.mark.parametrize("relative", sorted(rendered()), ids=str)
def test_committed_document_is_current(relative: Path) -> None:
    committed = ROOT / relative
    assert committed.exists(), f"{relative} is missing: run `baton docs`"
    assert committed.read_text() == rendered()[relative], f"{relative} is stale: run `baton docs`"


def test_asyncapi_has_a_channel_and_message_for_every_topic() -> None:
    document = asyncapi_document()
    assert document["asyncapi"].startswith("3.")
    assert {c["address"] for c in document["channels"].values()} == set(EVENT_TOPICS)
    for operation in document["operations"].values():
        channel = operation["channel"]["$ref"].removeprefix("#/channels/")
        assert channel in document["channels"]
    # One per topic each consumer group reads (an erasure is read in every group of a service).
    receives = sum(len(topics) for service in TOPOLOGY for topics in consumer_groups(service).values())
    assert sum(op["action"] == "receive" for op in document["operations"].values()) == receives
