"""Routing's own Prometheus metrics (the shared ones cover HTTP, consumers and the outbox)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

DECISION_SECONDS = Histogram(
    "baton_routing_decision_seconds",
    "Time to choose a rep for a lead: lock the ledger, check eligibility, pick.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
RULE_FINDINGS = Gauge(
    "baton_routing_rule_findings",
    "Places where the rules in use have drifted from the team (GET /v1/routing/health), by problem.",
    ["problem"],
)
SLA_TIMERS_PENDING = Gauge("baton_sla_timers_pending", "SLA timers not yet fired, at the worker's last pass.")
SLA_BREACHES = Counter("baton_sla_breaches_total", "SLA timers that fired as breaches.", ["sla_tier"])
SLA_FIRING_LATENESS_SECONDS = Histogram(
    "baton_sla_timer_lateness_seconds",
    "How long after its due time a timer fired.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
LEADS_QUEUED = Counter(
    "baton_routing_leads_queued_total",
    "Qualified leads no rep could take, parked in a fallback queue (alert when this moves).",
    ["queue", "reason"],
)
SLA_REMINDERS = Counter("baton_sla_reminders_total", "SLA reminders sent before a breach.", ["sla_tier"])
REPS_PAUSED = Counter(
    "baton_routing_reps_paused_total", "Reps switched off by the SLA policy for repeated breaches."
)
NOTIFICATIONS_SENT = Counter(
    "baton_routing_notifications_sent_total", "Notifications the webhook accepted.", ["kind"]
)
NOTIFICATION_FAILURES = Counter(
    "baton_routing_notification_failures_total",
    "Failed webhook calls (each is retried until the attempts run out).",
    ["reason"],
)
NOTIFICATIONS_ABANDONED = Counter(
    "baton_routing_notifications_abandoned_total",
    "Notifications given up after their last attempt (status `failed`).",
    ["kind"],
)
NOTIFICATIONS_PENDING = Gauge(
    "baton_routing_notifications_pending", "Notifications waiting to be sent, at the notifier's last pass."
)
COMMITMENT_BREACHES = Counter(
    "baton_routing_commitment_breaches_total",
    "Breaches of the signed agreement's commitments: first touch, first real contact, accept or reject.",
    ["commitment", "sla_tier"],
)
COMMITMENT_REMINDERS = Counter(
    "baton_routing_commitment_reminders_total",
    "Reminders sent to the holding rep before a commitment is breached (first touch, accept or reject).",
    ["commitment", "sla_tier"],
)
