"""Ingest: web forms, ad-platform webhooks, CSV imports and activity events in; `lead.ingested`,
`activity.recorded` and `lead.erased` out.

One intake: every source prepares a submission (`service.prepare_submission` for forms,
`platform_leads.py` for platforms, `imports.py` for CSV rows) and hands it to the one use case,
`intake.accept_submissions`, through the group-committing `SubmissionWriter` (`worker.py`), the
one owner of intake's transactions. Routes: `api.py` (forms, accounts, sources, activity,
erasure), `api_webhooks.py` (one route per platform, signature checked over the raw body, then
`webhooks.py`), `api_quarantine.py` (deliveries that could not be mapped, `quarantine.py`) and
`api_imports.py`. Pure parts: `providers.py` and `form_builders.py` (each platform's payload),
`signatures.py`, `normalize.py` (field maps, value transforms, touches), `identity.py` (match
keys by email, phone or platform lead id; free mail), `protection.py` (rate limits, origins,
honeypots). `platforms.py` fetches leads from the platform APIs a notification only points at.
`shared_rate_limit.py` counts form posts per client in PostgreSQL for every replica
(`BATON_FORM_RATE_LIMIT_STORE=postgres`), synced by `worker.RateLimitSync`.
"""
