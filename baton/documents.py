"""Generated interface documents: AsyncAPI 3 for the topics, OpenAPI for the four services.

`baton docs` writes them under docs/; a test fails when a committed document is stale, so the
documents in the repository always describe the code next to them.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Any, get_args

from pydantic import TypeAdapter

from baton import services as registry
from services.scoring.rubric_reference import rubric_reference
from shared.contracts.events import CURRENT_VERSIONS, AnyEvent
from shared.contracts.topics import TOPOLOGY, consumer_groups, dead_letter_topic

DOCS = Path("docs")


def _event_classes() -> dict[str, type[Any]]:
    union = get_args(get_args(AnyEvent)[0])
    return {cls.model_fields["event_type"].default: cls for cls in union}


def asyncapi_document() -> dict[str, Any]:
    """AsyncAPI 3.0: one channel per topic, one message per event type, and each service's
    send/receive operations from the shared topology."""
    classes = _event_classes()
    schemas: dict[str, Any] = {}
    for cls in classes.values():
        schema = TypeAdapter(cls).json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[cls.__name__] = schema
    messages = {
        cls.__name__: {
            "name": event_type,
            "title": cls.__name__,
            "summary": (cls.__doc__ or "").strip().split("\n\n")[0].replace("\n", " "),
            "contentType": "application/json",
            "payload": {"$ref": f"#/components/schemas/{cls.__name__}"},
            "headers": {
                "type": "object",
                "properties": {
                    name: {"type": "string"}
                    for name in ("event_type", "schema_version", "event_id", "correlation_id", "producer")
                },
            },
            "bindings": {"kafka": {"key": {"type": "string", "format": "uuid", "description": "lead id"}}},
            "x-schema-version": CURRENT_VERSIONS[event_type],
        }
        for event_type, cls in sorted(classes.items())
    }
    channels: dict[str, Any] = {
        topic.replace(".", "-"): {
            "address": topic,
            "messages": {cls.__name__: {"$ref": f"#/components/messages/{cls.__name__}"}},
        }
        for topic, cls in sorted(classes.items())
    }
    operations: dict[str, Any] = {}
    for service, flow in sorted(TOPOLOGY.items()):
        for topic in sorted(flow.produces):
            channel = topic.replace(".", "-")
            operations[f"{service}-send-{channel}"] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{channel}"},
                "summary": f"{service} publishes {topic}",
            }
        for group, topics in consumer_groups(service).items():
            # A lane's group reads apart from the service's main one (`TOPOLOGY`'s lanes).
            reader = group.removeprefix("baton-")
            for topic in sorted(topics):
                channel = topic.replace(".", "-")
                operations[f"{reader}-receive-{channel}"] = {
                    "action": "receive",
                    "channel": {"$ref": f"#/channels/{channel}"},
                    "summary": f"{service} consumes {topic}"
                    + ("" if reader == service else f" (consumer group {group})"),
                    "bindings": {"kafka": {"groupId": {"type": "string", "const": group}}},
                }
    dead_letters = {
        dead_letter_topic(group): f"Messages {service} could not handle, with x-error headers."
        for service in sorted(TOPOLOGY)
        for group in consumer_groups(service)
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Baton events",
            "version": "1.0.0",
            "description": "Every event travels in one envelope keyed by lead id. Evolution policy: "
            "additive changes keep schema_version; a breaking change bumps it and ships an upcaster. "
            "Dead-letter topics: " + "; ".join(f"{t}: {d}" for t, d in dead_letters.items()),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": dict(sorted(schemas.items()))},
    }


def openapi_document(name: str) -> dict[str, Any]:
    """A service's OpenAPI document, built without connecting to anything."""
    placeholders = {
        "BATON_DATABASE_URL": "postgresql+asyncpg://docs@127.0.0.1:1/docs",
        "BATON_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
        "BATON_JWT_SECRET": "documents-are-generated-offline-" + "x" * 16,
    }
    saved = {key: os.environ.get(key) for key in placeholders}
    os.environ.update(placeholders)
    try:
        app = importlib.import_module(f"{registry.service(name).package}.main").create_app()
        document: dict[str, Any] = app.openapi()
        return document
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def rendered_documents() -> dict[Path, str]:
    documents = {DOCS / "asyncapi.json": asyncapi_document()}
    documents.update(
        {DOCS / "openapi" / f"{name}.json": openapi_document(name) for name in registry.SERVICES}
    )
    rendered = {path: json.dumps(doc, indent=2, sort_keys=True) + "\n" for path, doc in documents.items()}
    # The rubric language's reference is prose generated from the rubric's models, so it is
    # kept current with the same command as the machine-readable documents.
    rendered[DOCS / "rubric.md"] = rubric_reference()
    return rendered


def write_documents(root: Path) -> list[Path]:
    written = []
    for relative, text in rendered_documents().items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            written.append(relative)
    return written
