"""Routing's senders in a process of their own (BATON_ROUTING_SENDERS=separate, `baton serve
routing --role senders`): routing assigns and writes what is to be sent, and only the senders
process sends it. Two apps on the real database and broker, as `baton up` runs them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from services.routing.main import create_senders_app
from services.routing.models import Notification
from services.routing.outbound_models import WebhookDelivery
from services.routing.settings import RoutingSettings
from shared.db import Database
from tests.conftest import Infra
from tests.support.apps import running_app
from tests.support.events import publish
from tests.support.notify import slack_fake
from tests.support.outbound import ADMIN
from tests.support.outbound_fakes import Receiver, serving
from tests.support.routing import add_rep, qualified, routing_app
from tests.support.waiting import eventually


async def statuses(db: Database) -> tuple[list[str], list[str]]:
    """The statuses of every notification and webhook delivery."""
    async with db.transaction() as session:
        notifications = await session.scalars(select(Notification.status))
        deliveries = await session.scalars(select(WebhookDelivery.status))
        return list(notifications), list(deliveries)


class TestSendersInAProcessOfTheirOwn:
    async def test_routing_only_writes_what_the_senders_process_then_sends(
        self, db: Database, settings_env: Infra
    ) -> None:
        receiver = Receiver(secrets=[])
        async with slack_fake() as slack, serving(receiver.app()) as tool:
            settings = RoutingSettings(
                routing_senders="separate", notification_interval_s=0.05, webhook_interval_s=0.05
            )
            async with routing_app(db, settings) as routing:
                hook = slack.hook("ada")
                await add_rep(
                    db, "ada", slack_webhook_url=hook, slack_user_id="U0ADA", notify_channels=["slack"]
                )
                created = await routing.post(
                    "/v1/webhooks",
                    json={"url": f"{tool}/hook", "event_types": ["lead.assigned"]},
                    headers=ADMIN,
                )
                assert created.status_code == 201, created.text
                receiver.secrets.append(created.json()["secret"])
                event = qualified()
                await publish(settings_env.kafka_bootstrap_servers, event)

                async def written() -> None:
                    assert await statuses(db) == (["pending"], ["pending"])

                # Assigned and read back by routing's follow-up consumer: both are written, and
                # nothing in routing's process sends them.
                await eventually(written, timeout_s=30)
                ready: dict[str, Any] = (await routing.get("/readyz")).json()
                assert not {"notifier", "webhook_sender"} & set(ready["checks"])
                assert slack.received == []
                assert receiver.calls == 0

                async with running_app(create_senders_app(settings), consume=False) as senders:

                    def sent() -> None:
                        assert slack.to(hook)
                        assert receiver.accepted

                    await eventually(sent, timeout_s=30)
                    ready = (await senders.get("/readyz")).json()
                    assert ready == {
                        "status": "ready",
                        "checks": {"database": "ok", "notifier": "ok", "webhook_sender": "ok"},
                    }
                    metrics = (await senders.get("/metrics")).text
                    assert "baton_routing_notifications_pending 0.0" in metrics

        assert await statuses(db) == (["sent"], ["delivered"])
        (message,) = slack.to(hook)
        assert message["text"].startswith("<@U0ADA> New lead for you")
        (accepted,) = receiver.accepted
        assert accepted["data"]["lead_id"] == str(event.lead_id)
