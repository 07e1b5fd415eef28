"""With no tracer exporting, a consumer batch passes each event's trace context on as it came,
exactly as a stand-in span would have."""

from __future__ import annotations

from opentelemetry import propagate

from shared.tracing import extract_context, passed_on

TRACEPARENT = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_the_context_passed_on_is_what_injecting_the_extracted_one_writes() -> None:
    headers = [("traceparent", TRACEPARENT), ("tracestate", b"vendor=x"), ("event_type", b"lead.ingested")]
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=extract_context(headers))
    assert passed_on(headers) == carrier == {"traceparent": TRACEPARENT.decode(), "tracestate": "vendor=x"}


def test_events_without_a_context_pass_on_none() -> None:
    assert passed_on([("event_type", b"lead.ingested")]) == {}
    assert passed_on(None) == {}
