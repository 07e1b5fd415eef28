"""Realistic leads for the scoring benches: a seeded mix of personas, companies and activity."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from services.scoring.evaluation import Activity, Profile

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

TITLES = [
    "VP Sales",
    "Chief Revenue Officer",
    "Marketing Manager",
    "Head of Growth",
    "Software Engineer",
    "Director of Demand Generation",
    "Founder",
    "Sales Development Rep",
    "Student",
    "Account Executive",
    "CTO",
    None,
]
DOMAINS = ["acme.io", "globex.com", "initech.com", "gmail.com", "umbrella.co", "hubspot.com", "uni.edu"]
INDUSTRIES = ["Software", "SaaS", "Retail", "Healthcare", "Manufacturing", "Fintech", None]
COUNTRIES = ["US", "GB", "DE", "FR", "BR", "JP", "IN", "CA", None]
FORMS = ["newsletter", "demo-request", "ebook-pipeline", "whitepaper-routing", "contact-sales", "webinar"]
PAGES = ["/", "/pricing", "/blog/lead-routing", "/pricing/enterprise", "/docs", "/customers"]


def lead_fields(rng: random.Random, i: int) -> dict[str, Any]:
    """The submission fields of the i-th synthetic lead."""
    return {
        "email": f"person{i}@{rng.choice(DOMAINS)}",
        "first_name": "Ada",
        "last_name": f"L{i}",
        "company": rng.choice(["Acme", "Globex", "Initech", None]),
        "job_title": rng.choice(TITLES),
        "country": rng.choice(COUNTRIES),
        "company_size": rng.choice([5, 50, 250, 1200, 8000, None]),
        "industry": rng.choice(INDUSTRIES),
        "source": rng.choice(["web", "linkedin", "google"]),
        "utm": {"source": "linkedin", "campaign": f"q4-{i % 7}"},
    }


def activity_specs(rng: random.Random) -> list[tuple[str, dict[str, str], float]]:
    """(type, properties, age in days) of a lead's history: 0-10 activities, mostly recent."""
    specs: list[tuple[str, dict[str, str], float]] = []
    for _ in range(rng.randint(0, 10)):
        age = rng.expovariate(1 / 20)
        kind = rng.random()
        if kind < 0.35:
            specs.append(("form_submission", {"form_id": rng.choice(FORMS), "source": "web"}, age))
        elif kind < 0.8:
            specs.append(("page_view", {"page_path": rng.choice(PAGES)}, age))
        elif kind < 0.9:
            specs.append(("webinar_attended", {"webinar_id": "w-1"}, age))
        else:
            specs.append(("email_click", {"campaign": "nurture-1"}, age))
    return specs


def sample_leads(count: int, *, seed: int = 7) -> list[tuple[Profile, list[Activity]]]:
    rng = random.Random(seed)
    leads: list[tuple[Profile, list[Activity]]] = []
    for i in range(count):
        fields = lead_fields(rng, i)
        profile = Profile.model_validate({k: v for k, v in fields.items() if k != "source"})
        activities = [
            Activity(type=kind, occurred_at=NOW - timedelta(days=age), properties=props)
            for kind, props, age in activity_specs(rng)
        ]
        leads.append((profile, activities))
    return leads


def lead_ids(count: int) -> list[uuid.UUID]:
    return [uuid.UUID(int=random.Random(i).getrandbits(128)) for i in range(count)]
