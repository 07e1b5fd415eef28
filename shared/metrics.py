"""Prometheus metrics shared by every service; exposed at GET /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter("baton_http_requests_total", "HTTP requests handled.", ["method", "route", "status"])
HTTP_LATENCY = Histogram("baton_http_request_duration_seconds", "HTTP request latency.", ["method", "route"])
EVENTS_CONSUMED = Counter(
    "baton_events_consumed_total",
    "Kafka messages handled by a consumer, by outcome (processed, duplicate, ignored, dead_lettered).",
    ["consumer", "event_type", "outcome"],
)
EVENT_HANDLE_SECONDS = Histogram(
    "baton_event_handle_seconds", "Time to handle one event, including its commit.", ["consumer"]
)
CONSUMER_RETRIES = Counter(
    "baton_consumer_retries_total", "Handler attempts that failed and were retried.", ["consumer"]
)
CONSUMER_LAG = Gauge(
    "baton_consumer_lag_messages",
    "Messages on a partition not yet handled by this consumer (from the last fetch's high-water mark).",
    ["consumer", "topic", "partition"],
)
CONSUMER_PASSES_CANCELLED = Counter(
    "baton_consumer_passes_cancelled_total",
    "Consumer passes the watchdog found stuck and cancelled (the client is then replaced).",
    ["consumer"],
)
LEAD_KEY_CATCH_UPS = Histogram(
    "baton_lead_key_catch_up_seconds",
    "Reads of lead.key_changed up to its end offsets, made when an event arrived before its key "
    "(docs/erasure.md).",
    ["client"],
)
OUTBOX_PUBLISHED = Counter("baton_outbox_published_total", "Outbox events published to Kafka.", ["service"])
OUTBOX_LAG_SECONDS = Gauge(
    "baton_outbox_oldest_unsent_age_seconds",
    "Age of the oldest unsent outbox event at the last relay pass.",
    ["service"],
)
