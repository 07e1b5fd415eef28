"""Ingest: web forms, ad-platform webhooks and activity events in; `lead.ingested` out."""
