"""The simulated market: prospects with a hidden propensity to buy, and the traffic they make.

Pure and seeded: the same seed gives the same prospects, submissions and verdicts. The truth
depends on fit and behaviour in ways the starter rubric only partly captures (revenue
operations buys, tiny companies and free-mail addresses do not, content downloaders mostly
browse, manufacturing is a market the rubric does not name, and a part of it is luck that no
rubric can see), so outcomes have something to teach the rubric.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

FREE_MAIL = ("gmail.com", "yahoo.com", "hotmail.com", "outlook.com")
HAND_RAISER_FORMS = ("demo-request", "contact-sales")
CONTENT_FORMS = (
    "ebook-alignment-playbook",
    "whitepaper-speed-to-lead",
    "guide-lead-scoring",
    "report-state-of-revops",
)
COUNTRIES = (
    ("US", 30),
    ("GB", 10),
    ("DE", 8),
    ("FR", 5),
    ("CA", 5),
    ("AU", 4),
    ("NL", 3),
    ("IN", 12),
    ("BR", 8),
    ("ES", 5),
    ("IT", 5),
    ("IE", 2),
)
INDUSTRIES = (
    ("software", 20, 0.6),
    ("saas", 12, 0.6),
    ("fintech", 6, 0.5),
    ("financial services", 8, 0.3),
    ("healthcare", 8, -0.5),
    ("manufacturing", 14, 0.6),
    ("retail", 12, -0.4),
    ("education", 10, -0.9),
    ("government", 5, -0.9),
)
# (seniority, weight, effect, titles by department)
SENIORITIES = (
    (
        "executive",
        14,
        1.2,
        {"sales": "VP Sales", "marketing": "CMO", "revops": "Chief Revenue Officer", "other": "CEO"},
    ),
    (
        "director",
        16,
        0.8,
        {
            "sales": "Director of Sales",
            "marketing": "Head of Demand Generation",
            "revops": "Director of Revenue Operations",
            "other": "Director of Engineering",
        },
    ),
    (
        "manager",
        26,
        -0.4,
        {
            "sales": "Sales Manager",
            "marketing": "Marketing Manager",
            "revops": "RevOps Manager",
            "other": "Office Manager",
        },
    ),
    (
        "individual",
        30,
        -0.6,
        {
            "sales": "Account Executive",
            "marketing": "Content Marketing Specialist",
            "revops": "Salesforce Administrator",
            "other": "Software Engineer",
        },
    ),
    (
        "student",
        8,
        -3.5,
        {"sales": "Student", "marketing": "Marketing Intern", "revops": "Student", "other": "PhD Candidate"},
    ),
    (
        "job-seeker",
        6,
        -3.5,
        {
            "sales": "Job Seeker",
            "marketing": "Looking for new opportunities",
            "revops": "Job Seeker",
            "other": "Unemployed",
        },
    ),
)
DEPARTMENTS = (("sales", 30, 0.6), ("marketing", 30, -0.5), ("revops", 12, 1.2), ("other", 28, -0.6))
COMPANY_WORDS = (
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Vandelay",
    "Stark",
    "Wayne",
    "Tyrell",
    "Soylent",
    "Cyberdyne",
    "Wonka",
    "Gringotts",
    "Oscorp",
    "Pied Piper",
    "Dunder",
    "Nakatomi",
    "Aperture",
)
COMPANY_SUFFIXES = (
    "Labs",
    "Systems",
    "Group",
    "Industries",
    "Analytics",
    "Cloud",
    "Health",
    "Bank",
    "Retail",
    "Works",
)
FIRST_NAMES = (
    "Ada",
    "Grace",
    "Alan",
    "Linus",
    "Margaret",
    "Ken",
    "Barbara",
    "Edsger",
    "Radia",
    "Tim",
    "Hedy",
    "Donald",
    "Frances",
    "John",
    "Sophie",
    "Yuki",
    "Aisha",
    "Mateo",
    "Priya",
    "Lars",
)
LAST_NAMES = (
    "Lovelace",
    "Hopper",
    "Turing",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "Dijkstra",
    "Perlman",
    "Lee",
    "Lamarr",
    "Knuth",
    "Allen",
    "McCarthy",
    "Wilson",
    "Tanaka",
    "Khan",
    "Garcia",
    "Iyer",
    "Nilsson",
)


@dataclass(frozen=True)
class Campaign:
    """A traffic source: its share of leads, its forms, and how junky its leads are."""

    source: str
    medium: str
    name: str
    weight: float
    forms: tuple[tuple[str, float], ...]
    free_mail: float
    junk: float


CAMPAIGNS: tuple[Campaign, ...] = (
    Campaign(
        "google",
        "cpc",
        "search-lead-routing",
        24,
        (("demo-request", 0.12), ("guide-lead-scoring", 0.88)),
        0.15,
        0.05,
    ),
    Campaign(
        "linkedin",
        "paid-social",
        "linkedin-revops-leaders",
        16,
        (("whitepaper-speed-to-lead", 0.9), ("demo-request", 0.1)),
        0.08,
        0.04,
    ),
    Campaign(
        "facebook",
        "paid-social",
        "meta-sales-tips",
        18,
        (("ebook-alignment-playbook", 0.95), ("contact-sales", 0.05)),
        0.45,
        0.2,
    ),
    Campaign(
        "organic",
        "organic",
        "blog",
        20,
        (("newsletter", 0.3), ("report-state-of-revops", 0.62), ("demo-request", 0.08)),
        0.25,
        0.1,
    ),
    Campaign("webinar", "event", "webinar-sla-masterclass", 12, (("webinar-registration", 1.0),), 0.12, 0.05),
    Campaign(
        "partner",
        "referral",
        "partner-referrals",
        6,
        (("contact-sales", 0.5), ("partner-intro", 0.5)),
        0.05,
        0.02,
    ),
)
REPEAT_FORMS = (
    ("report-state-of-revops", 0.4),
    ("webinar-registration", 0.3),
    ("demo-request", 0.15),
    ("pricing-request", 0.15),
)


def all_form_ids() -> list[str]:
    """Every form the simulated company runs."""
    forms = {f for c in CAMPAIGNS for f, _ in c.forms} | {f for f, _ in REPEAT_FORMS}
    return sorted(forms)


@dataclass(frozen=True)
class Submission:
    """One form post: when (simulated hours since the start), which form, which body."""

    at_hours: float
    prospect: int
    form_id: str
    body: dict[str, Any]
    idempotency_key: str
    retry: bool = False


@dataclass
class Prospect:
    index: int
    email: str
    fields: dict[str, Any]
    campaign: Campaign
    seniority: str
    department: str
    free_mail: bool
    hand_raiser: bool
    content_only: bool
    logit: float
    p_sql: float
    deal_size: float
    submissions: list[Submission] = field(default_factory=list)

    @property
    def junk(self) -> bool:
        return self.seniority in {"student", "job-seeker"}


def _pick(rng: random.Random, options: Sequence[tuple[Any, ...]]) -> tuple[Any, ...]:
    return rng.choices(options, weights=[o[1] for o in options])[0]


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def _company_size(rng: random.Random) -> int:
    return max(1, int(math.exp(rng.gauss(5.2, 1.7))))


def _size_effect(size: int) -> float:
    if size < 20:
        return -2.0
    if size < 200:
        return -1.0
    if size < 5000:
        return 1.0
    return 0.1


def make_prospect(rng: random.Random, index: int, at_hours: float, run: str) -> Prospect:
    """A prospect with a hidden propensity and the submissions they will make."""
    campaign = rng.choices(CAMPAIGNS, weights=[c.weight for c in CAMPAIGNS])[0]
    seniority, _, seniority_effect, titles = _pick(rng, SENIORITIES)
    if rng.random() < campaign.junk:
        seniority, _, seniority_effect, titles = _pick(rng, SENIORITIES[4:])
    department, _, department_effect = _pick(rng, DEPARTMENTS)
    industry, _, industry_effect = _pick(rng, INDUSTRIES)
    country = _pick(rng, COUNTRIES)[0]
    size = _company_size(rng)
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    company = f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_SUFFIXES)}"
    free_mail = rng.random() < campaign.free_mail
    domain = rng.choice(FREE_MAIL) if free_mail else company.lower().replace(" ", "") + ".example"
    email = f"{first.lower()}.{last.lower()}.{run}.{index}@{domain}"
    form_id = rng.choices([f for f, _ in campaign.forms], weights=[w for _, w in campaign.forms])[0]
    logit = -1.7 + seniority_effect + department_effect + industry_effect + _size_effect(size)
    logit += -1.5 if free_mail else 0.0
    logit += 0.1 if country in {"US", "CA", "GB", "IE", "DE", "FR", "NL", "AU"} else 0.0
    logit += rng.gauss(0, 0.5)
    # Engaged prospects come back; the more likely to buy, the more often.
    repeats = sum(rng.random() < 0.2 + 0.35 * sigmoid(logit) for _ in range(2))
    forms = [form_id] + [
        rng.choices([f for f, _ in REPEAT_FORMS], weights=[w for _, w in REPEAT_FORMS])[0]
        for _ in range(repeats)
    ]
    hand_raiser = any(f in HAND_RAISER_FORMS for f in forms)
    content_only = (
        not hand_raiser and repeats == 0 and form_id.startswith(("ebook", "whitepaper", "guide", "report"))
    )
    logit += 1.2 if hand_raiser else 0.0
    logit += -0.5 if content_only else 0.25 * repeats
    title = titles.get(department, titles["other"])
    fields: dict[str, Any] = {
        "email": email,
        "first_name": first,
        "last_name": last,
        "job_title": title,
        "company": company if rng.random() > 0.05 else None,
        "company_size": size if rng.random() > 0.1 else None,
        "industry": industry,
        "country": country,
        "consent": True,
        "utm_source": campaign.source,
        "utm_medium": campaign.medium,
        "utm_campaign": campaign.name,
    }
    fields = {k: v for k, v in fields.items() if v is not None}
    amount = {True: 9_000.0, False: 32_000.0}[size < 200] if size < 5000 else 85_000.0
    prospect = Prospect(
        index=index,
        email=email,
        fields=fields,
        campaign=campaign,
        seniority=seniority,
        department=department,
        free_mail=free_mail,
        hand_raiser=hand_raiser,
        content_only=content_only,
        logit=logit,
        p_sql=sigmoid(logit),
        deal_size=round(amount * math.exp(rng.gauss(0, 0.35)), -2),
    )
    when = at_hours
    for n, form in enumerate(forms):
        key = f"demo-{run}-{index}-{n}"
        prospect.submissions.append(Submission(when, index, form, dict(fields), key))
        if rng.random() < 0.04:  # a retried webhook or a double click: same key, same body
            prospect.submissions.append(Submission(when + 0.01, index, form, dict(fields), key, retry=True))
        when += rng.uniform(12, 24 * 6)
    return prospect


def week_arrivals(rng: random.Random, week: int, leads: int) -> list[float]:
    """Arrival times (simulated hours) of a week's new prospects: weekdays, office hours heavy."""
    day_weights = (1.0, 1.1, 1.1, 1.0, 0.8, 0.25, 0.2)
    times = []
    for _ in range(leads):
        day = rng.choices(range(7), weights=day_weights)[0]
        hour = min(23.99, max(0.0, rng.gauss(13, 4)))
        times.append(week * 168 + day * 24 + hour)
    return sorted(times)


@dataclass
class Market:
    """Every prospect of the run, created week by week from one seeded generator."""

    seed: int
    leads_per_week: int
    run: str
    prospects: list[Prospect] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def week(self, week: int) -> list[Submission]:
        """The new prospects of `week`; their later submissions may fall in later weeks."""
        volume = max(1, round(self.leads_per_week * self._rng.uniform(0.85, 1.15)))
        submissions: list[Submission] = []
        for at in week_arrivals(self._rng, week, volume):
            prospect = make_prospect(self._rng, len(self.prospects), at, self.run)
            self.prospects.append(prospect)
            submissions.extend(prospect.submissions)
        return submissions
