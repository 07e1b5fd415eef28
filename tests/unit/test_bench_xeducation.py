"""The X Education evaluation on a tiny synthetic Leads.csv written here (the real file is not needed)."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

from bench import xeducation
from bench.xeducation_leads import read_leads, time_ordered_split

COLUMNS = [
    "Prospect ID",
    "Lead Number",
    "Lead Origin",
    "Lead Source",
    "Do Not Email",
    "Do Not Call",
    "Converted",
    "TotalVisits",
    "Total Time Spent on Website",
    "Page Views Per Visit",
    "Last Activity",
    "Country",
    "Specialization",
    "How did you hear about X Education",
    "What is your current occupation",
    "What matters most to you in choosing a course",
    "Search",
    "Newspaper Article",
    "X Education Forums",
    "Newspaper",
    "Digital Advertisement",
    "Through Recommendations",
    "Tags",
    "Lead Quality",
    "Lead Profile",
    "City",
    "Asymmetrique Activity Index",
    "A free copy of Mastering The Interview",
    "Last Notable Activity",
]


def write_leads(path: Path, n: int = 240, seed: int = 5) -> None:
    """Working professionals and long visits convert; `Tags` gives the outcome away, so a bench
    that read it would score every lead perfectly."""
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*COLUMNS, ""])
        for i in range(n):
            professional = rng.random() < 0.3
            visits = rng.randint(0, 6)
            seconds = rng.randint(0, 1800) if visits else 0
            p = 0.15 + 0.45 * professional + 0.3 * (seconds > 900)
            converted = rng.random() < p
            row = dict.fromkeys(COLUMNS, "No")
            row.update(
                {
                    "Prospect ID": f"p-{i}",
                    "Lead Number": str(600000 + i * 7),
                    "Lead Origin": rng.choice(["API", "Landing Page Submission", "Lead Add Form"]),
                    "Lead Source": rng.choice(["Google", "google", "Direct Traffic", "Olark Chat"]),
                    "Converted": "1" if converted else "0",
                    "TotalVisits": str(visits) if rng.random() > 0.02 else "",
                    "Total Time Spent on Website": str(seconds),
                    "Page Views Per Visit": str(rng.choice([0, 1, 2, 2.5, 4])) if visits else "0",
                    "Country": rng.choice(["India", "", "United States"]),
                    "Specialization": rng.choice(["Select", "Finance Management", ""]),
                    "How did you hear about X Education": "Select",
                    "What is your current occupation": "Working Professional"
                    if professional
                    else rng.choice(["Unemployed", "Student", ""]),
                    "What matters most to you in choosing a course": "Better Career Prospects",
                    "City": rng.choice(["Mumbai", "Select", "Thane & Outskirts"]),
                    "Tags": "Closed by Horizzon" if converted else "Ringing",
                    "Lead Quality": "High in Relevance" if converted else "Worst",
                    "Last Activity": "SMS Sent" if converted else "Email Opened",
                    "A free copy of Mastering The Interview": rng.choice(["Yes", "No"]),
                }
            )
            writer.writerow([*(row[c] for c in COLUMNS), ""])


class TestEvaluation:
    def test_the_three_aucs_are_computed_on_a_time_ordered_split(self, tmp_path: Path) -> None:
        data = tmp_path / "Leads.csv"
        write_leads(data)
        result = xeducation.evaluate(data)
        assert (result["train"], result["test"]) == (168, 72)
        aucs = result["roc_auc"]
        assert set(aucs) == {"starter_rubric", "tuned_rubric", "logistic_regression"}
        assert all(0.0 <= value <= 1.0 for value in aucs.values())
        assert aucs["tuned_rubric"] > 0.6
        assert aucs["tuned_rubric"] < 1.0
        rule_ids = [r["id"] for kind in result["tuned_rubric"].values() for r in kind]
        assert "found-job-title-working-professional" in rule_ids
        assert not any("tag" in rule or "quality" in rule or "activity" in rule for rule in rule_ids)

    def test_leads_are_ordered_by_lead_number_and_leaky_columns_are_dropped(self, tmp_path: Path) -> None:
        data = tmp_path / "Leads.csv"
        write_leads(data, n=20)
        train, test = time_ordered_split(list(reversed(read_leads(data))))
        assert max(lead.number for lead in train) < min(lead.number for lead in test)
        assert all("Tags" not in lead.fields and "Lead Quality" not in lead.fields for lead in train)
        first = read_leads(data)[0]
        assert first.fields["Specialization"] is None or first.fields["Specialization"] != "Select"

    def test_main_prints_the_aucs_and_writes_json(self, tmp_path: Path, capsys: object) -> None:
        data = tmp_path / "Leads.csv"
        write_leads(data)
        assert xeducation.main(["--data", str(data), "--results", str(tmp_path / "results")]) == 0
        written = list((tmp_path / "results").glob("xeducation-*.json"))
        assert len(written) == 1
        assert set(json.loads(written[0].read_text())["roc_auc"]) == {
            "starter_rubric",
            "tuned_rubric",
            "logistic_regression",
        }
