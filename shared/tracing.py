"""OpenTelemetry tracing across HTTP and Kafka hops: one lead's journey is one trace.

The W3C trace context travels in each event's headers: `add_event` stores the current context
with the outbox row, the relay publishes it as Kafka headers, and the consumer wrapper
continues the trace when it handles the message. Off by default: spans are exported only when
the standard OTEL_* variables name an exporter (OTEL_TRACES_EXPORTER or
OTEL_EXPORTER_OTLP_ENDPOINT); otherwise the API is a no-op and costs next to nothing.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Tracer

TRACER_NAME = "baton"


def configure_tracing(service: str) -> bool:
    """Install an exporting tracer provider if the OTEL_* environment asks for one."""
    exporter_name = os.environ.get("OTEL_TRACES_EXPORTER", "")
    if exporter_name in ("", "none") and not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return False
    if isinstance(trace.get_tracer_provider(), _sdk_provider_type()):
        return True  # already configured in this process (tests, several apps)
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

    exporter: SpanExporter
    if exporter_name == "console":
        exporter = ConsoleSpanExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", f"baton-{service}")})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return True


@functools.cache
def _sdk_provider_type() -> type:
    # Cached: an import statement on every consumer batch cost more than the check it serves.
    from opentelemetry.sdk.trace import TracerProvider

    return TracerProvider


@functools.cache
def tracer() -> Tracer:
    # Kept: before a provider is installed this is a proxy that follows the one installed later.
    return trace.get_tracer(TRACER_NAME)


def spans_recorded() -> bool:
    """Whether an SDK tracer provider is installed. Without one every span is a stand-in that
    only carries the incoming context through, which a caller may do itself for less."""
    return isinstance(trace.get_tracer_provider(), _sdk_provider_type())


def passed_on(headers: Iterable[tuple[str, bytes]] | None, fields: set[str] | None = None) -> dict[str, str]:
    """The trace context of Kafka record headers as the headers that continue it (what injecting
    a stand-in span's context writes, with no span made). `fields`: the propagator's header
    names, when the caller already has them."""
    fields = propagate.get_global_textmap().fields if fields is None else fields
    return {
        key: value.decode(errors="replace")
        for key, value in headers or ()
        if key in fields and value is not None
    }


def inject_headers() -> dict[str, str]:
    """The current trace context as headers (empty when no span is recording)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def extract_context(headers: Mapping[str, str] | Iterable[tuple[str, bytes]] | None) -> Context:
    """A context from HTTP headers or Kafka record headers."""
    if headers is None:
        return propagate.extract({})
    if isinstance(headers, Mapping):
        return propagate.extract(dict(headers))
    carrier = {key: value.decode(errors="replace") for key, value in headers if value is not None}
    return propagate.extract(carrier)


def current_trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None
