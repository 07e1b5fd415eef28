"""Baton's common runtime: event contracts, Kafka runtime, settings, database and observability."""
