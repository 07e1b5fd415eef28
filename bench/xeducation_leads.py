"""X Education's Leads.csv read as what Baton would know about each lead.

Time order: the file has no timestamp; `Lead Number` is a sequence number given at capture, so
leads are ordered by it and the first 70 % train, the last 30 % test (no later lead informs an
earlier score).

Leak-free columns only (see the data's README): the sales-filled `Tags`, `Lead Quality`,
`Lead Profile`, `Asymmetrique*`, `Last Activity` and `Last Notable Activity` are never read.

Mapping of columns to what Baton knows (`Profile` fields, `attributes.*`, activities):
  Lead Source -> source          Lead Origin -> attributes.lead_origin and the capture form's id
  Country -> country             What is your current occupation -> job_title
  Specialization, How did you hear about X Education, What matters most..., City,
  Do Not Call, Search ... Through Recommendations -> attributes.<snake name>
  Do Not Email = Yes -> consent false
  the capture -> one form_submission (form_id = the origin's slug)
  A free copy of Mastering The Interview = Yes -> form_submission `ebook-mastering-the-interview`
  TotalVisits -> one page_view `/visit` per visit (at most 50), carrying `pages` (Page Views Per Visit)
  Total Time Spent on Website -> one page_view `/time-on-site` carrying `minutes`
"Select" and blanks are no value. Every activity happens at the evaluation moment (no decay).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from services.scoring.evaluation import Activity, Profile

NOW = datetime(2026, 1, 1, tzinfo=UTC)
TEST_SHARE = 0.3
MAX_VISITS = 50
LEAKY = (
    "Tags",
    "Lead Quality",
    "Lead Profile",
    "Asymmetrique Activity Index",
    "Asymmetrique Profile Index",
    "Asymmetrique Activity Score",
    "Asymmetrique Profile Score",
    "Last Activity",
    "Last Notable Activity",
)
PROFILE_COLUMNS = {
    "Lead Source": "source",
    "Lead Origin": "attributes.lead_origin",
    "Country": "country",
    "What is your current occupation": "job_title",
    "Specialization": "attributes.specialization",
    "How did you hear about X Education": "attributes.heard_about",
    "What matters most to you in choosing a course": "attributes.what_matters",
    "City": "attributes.city",
    "Do Not Call": "attributes.do_not_call",
    "Search": "attributes.search",
    "Newspaper Article": "attributes.newspaper_article",
    "X Education Forums": "attributes.x_education_forums",
    "Newspaper": "attributes.newspaper",
    "Digital Advertisement": "attributes.digital_advertisement",
    "Through Recommendations": "attributes.through_recommendations",
}


@dataclass(frozen=True)
class XLead:
    number: int
    converted: bool
    fields: dict[str, str | None]
    no_email: bool
    free_copy: bool
    visits: float
    minutes: float
    pages: float
    profile_values: dict[str, str | None] = field(default_factory=dict)


def _value(text: str | None) -> str | None:
    text = (text or "").strip()
    return None if not text or text.casefold() == "select" else text


def _number(text: str | None) -> float:
    try:
        return float(text or 0)
    except ValueError:
        return 0.0


def read_leads(path: Path) -> list[XLead]:
    """The leads of Leads.csv (trailing empty column dropped), leak-free columns only."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    leads = []
    for row in rows:
        row.pop("", None)
        for column in LEAKY:
            row.pop(column, None)
        fields = {column: _value(row.get(column)) for column in PROFILE_COLUMNS}
        leads.append(
            XLead(
                number=int(row["Lead Number"]),
                converted=row["Converted"].strip() == "1",
                fields=fields,
                no_email=row.get("Do Not Email", "").strip() == "Yes",
                free_copy=row.get("A free copy of Mastering The Interview", "").strip() == "Yes",
                visits=_number(row.get("TotalVisits")),
                minutes=_number(row.get("Total Time Spent on Website")) / 60,
                pages=_number(row.get("Page Views Per Visit")),
                profile_values={PROFILE_COLUMNS[c]: v for c, v in fields.items()},
            )
        )
    return leads


def time_ordered_split(
    leads: Sequence[XLead], test_share: float = TEST_SHARE
) -> tuple[list[XLead], list[XLead]]:
    ordered = sorted(leads, key=lambda lead: lead.number)
    cut = round(len(ordered) * (1 - test_share))
    return ordered[:cut], ordered[cut:]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-") or "unknown"


def to_profile(lead: XLead) -> Profile:
    values = lead.profile_values
    attributes = {
        k.removeprefix("attributes."): v for k, v in values.items() if k.startswith("attributes.") and v
    }
    return Profile(
        email=f"lead-{lead.number}@xeducation.example",
        source=values["source"],
        country=values["country"],
        job_title=values["job_title"],
        consent=not lead.no_email,
        attributes=attributes,
    )


def to_activities(lead: XLead) -> list[Activity]:
    origin = lead.fields["Lead Origin"] or "unknown"
    activities = [Activity(type="form_submission", occurred_at=NOW, properties={"form_id": slug(origin)})]
    if lead.free_copy:
        activities.append(
            Activity(
                type="form_submission",
                occurred_at=NOW,
                properties={"form_id": "ebook-mastering-the-interview"},
            )
        )
    visit = {"page_path": "/visit", "pages": f"{lead.pages:g}"}
    activities += [Activity(type="page_view", occurred_at=NOW, properties=visit)] * int(
        min(lead.visits, MAX_VISITS)
    )
    if lead.minutes > 0:
        time_on_site = {"page_path": "/time-on-site", "minutes": f"{lead.minutes:.2f}"}
        activities.append(Activity(type="page_view", occurred_at=NOW, properties=time_on_site))
    return activities
