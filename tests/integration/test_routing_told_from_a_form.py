"""From a form post to the rep: a lead posted to ingest is scored, qualified and assigned, and the
rep who holds it (and no other) gets the Slack-compatible message and the email, while a tool's
subscription gets a Standard Webhooks delivery that a third-party verifier accepts. The four
services run in-process on the real database and broker; Slack, SMTP and the tool are local."""

from __future__ import annotations

import uuid
from typing import Any

from services.ingest.main import create_app as create_ingest
from services.routing.main import create_app as create_routing
from services.routing.settings import RoutingSettings
from services.scoring.main import create_app as create_scoring
from shared.auth import Role
from shared.db import Database
from tests.conftest import Infra, bearer
from tests.support.apps import running_service
from tests.support.notify import slack_fake, smtp_server
from tests.support.outbound_fakes import Receiver, serving
from tests.support.waiting import eventually

ADMIN = bearer(Role.ADMIN)


async def test_a_form_post_reaches_the_holder_on_slack_and_email_and_a_verified_webhook(
    db: Database, settings_env: Infra
) -> None:
    receiver = Receiver(secrets=[])
    async with slack_fake() as slack, smtp_server() as mailbox, serving(receiver.app()) as tool:
        settings = RoutingSettings(
            notification_interval_s=0.05,
            webhook_interval_s=0.05,
            smtp_host=mailbox.host,
            smtp_port=mailbox.port,
        )
        async with (
            running_service(create_routing(settings), db) as routing,
            running_service(create_scoring(), db),
            running_service(create_ingest(), db) as ingest,
        ):
            hooks: dict[str, str] = {}
            for name in ("ada", "bob"):
                hooks[name] = slack.hook(name)
                created = await routing.post(
                    "/v1/reps",
                    json={
                        "name": name,
                        "email": f"{name}@example.com",
                        "slack_webhook_url": hooks[name],
                        "slack_user_id": f"U0{name.upper()}",
                        "notify_channels": ["slack", "email"],
                    },
                    headers=ADMIN,
                )
                assert created.status_code == 201, created.text
            subscribed = await routing.post(
                "/v1/webhooks", json={"url": f"{tool}/hook", "event_types": ["lead.assigned"]}, headers=ADMIN
            )
            assert subscribed.status_code == 201, subscribed.text
            receiver.secrets.append(subscribed.json()["secret"])
            # A form the signed agreement names as a hand-raiser: its lead qualifies at once.
            form = {"id": "contact-sales", "name": "Contact sales", "is_hand_raiser": True}
            await ingest.post("/v1/forms", json=form, headers=ADMIN)
            email = f"grace-{uuid.uuid4().hex[:8]}@analytical.example"
            posted = await ingest.post(
                "/v1/forms/contact-sales/submissions",
                json={"email": email, "first_name": "Grace", "last_name": "Hopper", "company": "Analytical"},
            )
            assert posted.status_code == 202, posted.text
            lead_id = posted.json()["lead_id"]
            assignment: dict[str, Any] = {}

            async def assigned() -> None:
                response = await routing.get(f"/v1/leads/{lead_id}/assignment", headers=ADMIN)
                assert response.status_code == 200, response.text
                assignment.update(response.json())

            await eventually(assigned, timeout_s=60)
            reps = {rep["id"]: rep["name"] for rep in (await routing.get("/v1/reps", headers=ADMIN)).json()}
            holder = reps[assignment["rep_id"]]
            other = next(name for name in hooks if name != holder)

            def told() -> None:
                assert slack.to(hooks[holder])
                assert mailbox.to(f"{holder}@example.com")
                assert receiver.accepted

            await eventually(told, timeout_s=30)

    (message,) = slack.to(hooks[holder])
    assert message["text"].startswith(f"<@U0{holder.upper()}> New lead for you: Grace Hopper")
    (mail,) = mailbox.to(f"{holder}@example.com")
    assert mail["Subject"].startswith("New lead for you: Grace Hopper")
    assert (slack.to(hooks[other]), mailbox.to(f"{other}@example.com")) == ([], [])
    # Verified by the `standardwebhooks` library inside the receiver, under the shown secret.
    (delivery,) = receiver.accepted
    assert (delivery["data"]["lead_id"], delivery["data"]["rep_id"]) == (lead_id, assignment["rep_id"])
    assert receiver.rejected == 0
