"""Ingest: web forms, ad-platform webhooks and activity events in; `lead.ingested`,
`activity.recorded` and `lead.erased` out.

Modules: `api.py` (forms, accounts, sources, activity, erasure) and `api_webhooks.py` (one
route per platform, signature checked over the raw body) call the use cases in `service.py`,
`webhooks.py` and `activities.py`. Pure parts: `providers.py` and `form_builders.py` (each
platform's payload), `signatures.py`, `normalize.py`, `identity.py` (match keys, free mail),
`protection.py` (rate limits, origins, honeypots). `platforms.py` fetches leads from the
platform APIs a notification only points at.
"""
