"""Baton's four services: ingest, scoring, routing and feedback."""
