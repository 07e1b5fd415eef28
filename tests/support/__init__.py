"""Helpers the tests share, one module per concern; import from the module, never from here.

- `apps`: run a service app with its lifespan and an in-process client.
- `events`: read topics and a consumer group's progress on the broker.
- `waiting`: wait on a condition instead of sleeping.
- `browser`: the system's headless Chromium, and an app served to it on a real port.
- `ingest`, `routing`: each service's fixtures (clients, forms, leads, reps, rule sets).
- `feedback`: the hand-computed seven-lead history the reports and the dashboard replay.
"""
