"""Drift becomes a draft by itself: feedback's drift check opens a proposal and emits
`revision.proposed` through its outbox; scoring consumes it and opens a draft named
after the proposal, with the revised planning rates and the re-derived MQL commitment, made by
feedback's drift check in its audit trail. Both teams sign it like any other, and the revised
commitment becomes the one in force. Real broker, real PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from services.feedback import agreement as feedback_agreement
from services.feedback.main import create_app as create_feedback_app
from services.feedback.settings import FeedbackSettings
from services.scoring import revisions
from services.scoring.main import create_app as create_scoring_app
from services.scoring.revisions import DRIFT_AUTHOR
from shared.auth import Role
from shared.contracts import NO_LEAD, PlannedRate, utc_now
from shared.contracts.revisions import (
    AgreementRevisionProposed,
    AgreementRevisionProposedPayload,
    DriftedRate,
)
from shared.db import Database
from tests.conftest import Infra, bearer, truncate_all
from tests.integration.test_scoring_agreement_browser import one_mql_in_five_reaches_sql
from tests.integration.test_scoring_signed_agreement import agreement
from tests.support.apps import running_app
from tests.support.waiting import eventually
from tests.unit.test_scoring_agreement_terms import PLAN

MARKETING, SALES, MANAGER = bearer(Role.MARKETING), bearer(Role.SALES), bearer(Role.MANAGER)
VERSION = "2027.drift"


async def test_drift_in_feedback_opens_a_draft_in_scoring_that_both_teams_sign(
    db: Database, settings_env: Infra
) -> None:
    today = utc_now().date()
    plan = {
        **PLAN,
        "period_start": str(today - timedelta(days=14)),
        "period_end": str(today + timedelta(days=15)),
    }
    # No drift loop: the test runs its check once the whole funnel is in (a loop could check halfway).
    feedback_app = create_feedback_app(FeedbackSettings(drift_check_interval_s=0))
    # Each app's consumer group is the test's own, starting at the end of its topics.
    async with running_app(create_scoring_app()) as scoring, running_app(feedback_app) as feedback:
        await truncate_all(db)
        for step, headers in (("", MARKETING), ("/approvals", MARKETING), ("/approvals", SALES)):
            path = "/v1/rubrics" + (f"/{VERSION}{step}" if step else "")
            body = agreement(VERSION, plan=plan) if not step else None
            answered = await scoring.post(path, json=body, headers=headers)
            assert answered.status_code in (200, 201), answered.text
        assert (await scoring.post(f"/v1/rubrics/{VERSION}/activate", headers=SALES)).status_code == 200

        async def signed() -> None:
            cards = (await feedback.get("/v1/agreement/scorecards", headers=SALES)).json()
            assert cards["agreement_version"] == VERSION

        await eventually(signed, timeout_s=30)
        # Planned 40 % (31-45 %) from MQL to SQL; measured: one in five.
        await one_mql_in_five_reaches_sql(db)
        async with db.transaction() as session:
            assert await feedback_agreement.check_drift(session, min_leads=5, now=utc_now()) is not None

        drafts: list[dict[str, Any]] = []

        async def drafted() -> None:
            versions = (await scoring.get("/v1/rubrics", headers=MARKETING)).json()
            drafts[:] = [v for v in versions if v["status"] == "draft"]
            assert drafts, "no draft yet"

        await eventually(drafted, timeout_s=60)
        (draft,) = drafts
        (proposal,) = (await feedback.get("/v1/agreement/proposals", headers=SALES)).json()["proposals"]
        version = draft["version"]
        read = (await scoring.get(f"/v1/rubrics/{version}", headers=SALES)).json()
        trail = (await scoring.get("/v1/audit", params={"object_id": version}, headers=MANAGER)).json()
        for team in (MARKETING, SALES):
            assert (await scoring.post(f"/v1/rubrics/{version}/approvals", headers=team)).status_code == 200
        activated = await scoring.post(f"/v1/rubrics/{version}/activate", headers=MARKETING)
        assert activated.status_code == 200, activated.text

        async def in_force() -> None:
            cards = (await feedback.get("/v1/agreement/scorecards", headers=SALES)).json()
            assert (cards["agreement_version"], cards["marketing"]["commitment"]) == (version, 800)

        await eventually(in_force, timeout_s=30)
        versions = (await scoring.get("/v1/rubrics", headers=MARKETING)).json()

    assert version == f"{VERSION}-drift-{proposal['id'][:8]}"
    assert read["created_by"] == DRIFT_AUTHOR
    assert read["document"]["plan"]["rates"]["mql_to_sql"]["rate"] == 0.2
    assert read["document"]["plan"]["rates"]["mql_to_sql"]["measured"] == 0.2
    # 40 deals, 160 SQLs at the measured 20 %: 800 MQLs where the signed plan said 400.
    assert (proposal["mql_commitment_before"], proposal["mql_commitment_after"]) == (400, 800)
    assert read["plan"]["mql_commitment"] == 800
    assert read["missing_approvals"] == ["marketing", "sales"]
    assert [(e["actor"], e["action"]) for e in trail][-1] == (DRIFT_AUTHOR, "rubric.drafted")
    assert {v["version"]: v["status"] for v in versions} == {VERSION: "retired", version: "active"}


def proposal(version: str, mql_to_sql: float = 0.2) -> AgreementRevisionProposed:
    payload = AgreementRevisionProposedPayload(
        proposal_id=uuid.uuid4(),
        agreement_version=version,
        drifted=[
            DriftedRate(
                name="mql_to_sql", planned=0.4, measured=0.2, low=0.06, high=0.51, reached=2, started=10
            )
        ],
        rates={
            "mql_to_sql": PlannedRate(rate=mql_to_sql, low=0.06, high=0.51),
            "sql_to_won": PlannedRate(rate=0.25),
        },
        mql_commitment_before=400,
        mql_commitment_after=800,
        detected_at=utc_now(),
    )
    return AgreementRevisionProposed.new(lead_id=NO_LEAD, producer="feedback", payload=payload)


async def test_one_drift_draft_at_a_time_and_one_per_proposal(db: Database, settings_env: Infra) -> None:
    app = create_scoring_app()
    async with running_app(app, consume=False) as scoring:
        await truncate_all(db)
        await scoring.post("/v1/rubrics", json=agreement(VERSION), headers=MARKETING)
        first, second = proposal(VERSION), proposal(VERSION)
        # The same proposal redelivered under a new event id (a relay that re-published).
        again = first.model_copy(update={"event_id": uuid.uuid4()})
        opened = []
        # A rate no plan can hold is refused without a retry (and blocks nothing).
        invalid = proposal(VERSION, mql_to_sql=1.5)
        for event in (invalid, first, again):
            async with db.transaction() as session:
                opened.append(
                    await revisions.open_drift_draft(session, event=event, active=app.state.active_rubric)
                )
        # One team signs the first draft, then nobody else does.
        first_version = revisions.drift_version(VERSION, first)
        signed_once = await scoring.post(f"/v1/rubrics/{first_version}/approvals", headers=MARKETING)
        assert signed_once.status_code == 200, signed_once.text
        for event in (second, again, proposal("no-such-version")):
            async with db.transaction() as session:
                opened.append(
                    await revisions.open_drift_draft(session, event=event, active=app.state.active_rubric)
                )
        versions = (await scoring.get("/v1/rubrics", headers=SALES)).json()
        stale_signature = await scoring.post(f"/v1/rubrics/{first_version}/approvals", headers=SALES)
        trail = (await scoring.get("/v1/audit", params={"object_id": first_version}, headers=MANAGER)).json()

    replaced, replacing = opened.pop(1), opened.pop(2)
    assert replaced is not None
    assert replacing is not None
    assert replaced.version == first_version
    assert replacing.version == revisions.drift_version(VERSION, second)
    assert opened == [None, None, None, None]
    # The later proposal replaced the draft nobody finished signing, instead of waiting behind it.
    assert {v["version"]: v["status"] for v in versions} == {
        VERSION: "draft",
        first_version: "withdrawn",
        replacing.version: "draft",
    }
    assert stale_signature.status_code == 409, stale_signature.text
    assert (DRIFT_AUTHOR, "rubric.withdrawn") in [(e["actor"], e["action"]) for e in trail]
