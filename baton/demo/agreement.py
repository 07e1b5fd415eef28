"""The demo's agreement work: forms marketing runs, and proposals both teams sign.

Everything goes through the services' public APIs: feedback proposes, scoring's lifecycle
takes a draft, one approval per team and an activation, exactly as people would.
"""

from __future__ import annotations

import time
from importlib.resources import files
from typing import Any

import yaml

from baton.demo.report import Ledger, pct
from baton.demo.run import Run
from baton.demo.system import DemoFailed
from baton.demo.world import HAND_RAISER_FORMS, all_form_ids


def starter_document() -> dict[str, Any]:
    text = (files("services.scoring.rubrics") / "starter.yaml").read_text(encoding="utf-8")
    document: dict[str, Any] = yaml.safe_load(text)
    return document


def is_the_demos(version: str, starter_version: str) -> bool:
    """Whether `version` is the starter rubric or one a demo run activated: the names the demo
    gives (`<starter>-demo-<run>`, `demo-<run>-week<n>`) say so. Anything else people signed."""
    return version == starter_version or version.startswith((f"{starter_version}-demo-", "demo-"))


def demo_version_of_starter(starter_version: str, run_id: str) -> str:
    return f"{starter_version}-demo-{run_id}"


def configure_forms(run: Run) -> None:
    """Declare the simulated company's forms to ingest (an ingest without configured forms
    answers 404 to this call and accepts any form id)."""
    for form_id in all_form_ids():
        body = {
            "id": form_id,
            "name": form_id.replace("-", " ").capitalize(),
            "is_hand_raiser": form_id in HAND_RAISER_FORMS,
        }
        response = run.call("POST", "ingest", "/v1/forms", role="marketing", json=body)
        if response.status_code in {404, 405}:
            return
        run.ok(response)


def activate(run: Run, document: dict[str, Any], *, backtest: bool = False) -> str:
    """Draft, (a backtest both teams read,) both approvals, activation: scoring's lifecycle.
    Returns the backtest's one-line reading, or an empty string."""
    version = str(document["version"])
    run.ok(run.call("POST", "scoring", "/v1/rubrics", role="marketing", json=document))
    reading = _backtest(run, version) if backtest else ""
    run.ok(run.call("POST", "scoring", f"/v1/rubrics/{version}/approvals", role="marketing"))
    run.ok(run.call("POST", "scoring", f"/v1/rubrics/{version}/approvals", role="sales"))
    activated = run.ok(run.call("POST", "scoring", f"/v1/rubrics/{version}/activate", role="manager"))
    run.activations.append((str(activated.get("activated_at")), version))
    run.version = version
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = run.ok(run.call("GET", "scoring", f"/v1/rubrics/{version}"))
        if not state.get("rescore") or state["rescore"]["status"] != "running":
            break
        time.sleep(0.3)
    return reading


def _backtest(run: Run, version: str) -> str:
    """What scoring's backtest says the draft would change, in one line."""
    response = run.call("POST", "scoring", f"/v1/rubrics/{version}/backtest", role="marketing")
    if response.status_code != 200:
        return ""
    report = response.json()
    active, draft = report["active"], report["draft"]
    return (
        f"backtest over {report['leads']} leads: MQLs {active['mqls']} → {draft['mqls']}, "
        f"MQL→SQL {pct(active['mql_to_sql_rate'])} → {pct(draft['mql_to_sql_rate'])}"
    )


def retune(run: Run, week: int) -> None:
    """Ask feedback for a proposal and, if there is one, have both teams sign it."""
    rubric = run.ok(run.call("GET", "scoring", "/v1/rubric"))
    version = f"demo-{run.run_id}-week{week}"  # is_the_demos() recognises it
    proposal = run.ok(
        run.call(
            "POST",
            "feedback",
            "/v1/proposals",
            json={
                "rubric": rubric,
                "version": version,
                "min_outcomes": run.config.min_outcomes,
                # A short run lowers the sample it asks for; each rule's evidence bar follows it.
                "min_rule_leads": min(8, max(2, run.config.min_outcomes // 3)),
            },
        )
    )
    if not proposal["ready"]:
        run.say(f"week {week}: no proposal ({'; '.join(proposal['reasons'])})")
        return
    moved = [r for r in proposal["rules"] if r["verdict"] in {"raise", "lower"}]
    bar = proposal.get("bar") or {}
    changes = [f"{r['rule_id']} {r['points']:g}→{r['proposed_points']:g}" for r in moved]
    if bar and bar["proposed"] != bar["current"]:
        changes.append(f"grade {bar['grade']} floor {bar['current']:g}→{bar['proposed']:g}")
    try:
        reading = activate(run, proposal["draft"], backtest=True)
    except DemoFailed as exc:
        # A draft scoring refuses is news for both teams, not a reason to stop the company.
        run.say(f"week {week}: scoring did not take the proposal {version}: {exc}")
        return
    run.say(
        f"week {week}: feedback proposed {version} from {proposal['outcomes']} judged MQLs "
        f"({', '.join(changes) or 'no change'}); {reading + '; ' if reading else ''}"
        "marketing and sales approved; active"
    )


def attribute(run: Run, ledger: Ledger) -> None:
    """Each MQL to the rubric version whose scoring first qualified it (from scoring's history)."""
    outcome_by_lead = {a.lead_id: a for a in run.assignments.values()}
    ledger.currency = run.currency
    for version in run.lead_posted_version.values():
        ledger.of(version).leads += 1
    for lead_id, assignment in outcome_by_lead.items():
        history = run.call("GET", "scoring", f"/v1/leads/{lead_id}/score/history", params={"limit": 1000})
        version = run.version
        if history.status_code == 200:
            version = next((s["rubric_version"] for s in history.json()["scores"] if s["is_mql"]), version)
        tally = ledger.of(version)
        tally.mqls += 1
        actions = {s.action: s for s in assignment.steps[: assignment.done]}
        tally.judged += bool({"rejected", "sql", "won", "lost"} & actions.keys())
        tally.sqls += "sql" in actions
        if "won" in actions:
            tally.won += 1
            tally.revenue += actions["won"].amount or 0.0
