"""Reps choose where they are told of their leads: a Slack incoming webhook of their own and/or
a Slack user id to mention, and the channels they want (`slack`, `email`). Notifications get
the channel they go out on and its recipient, so each is retried on its own.

Revision ID: routing_0005_rep_notifications
Revises: routing_0004_rep_actions
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "routing_0005_rep_notifications"
down_revision: str | None = "routing_0004_rep_actions"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "routing"


def upgrade() -> None:
    op.add_column("rep", sa.Column("slack_webhook_url", sa.Text()), schema=SCHEMA)
    op.add_column("rep", sa.Column("slack_user_id", sa.String(32)), schema=SCHEMA)
    op.add_column(
        "rep",
        sa.Column(
            "notify_channels",
            postgresql.ARRAY(sa.String(16)),
            nullable=False,
            server_default=sa.text("'{}'::varchar[]"),
        ),
        schema=SCHEMA,
    )
    # Every notification written before this one went to the team's webhook.
    op.add_column(
        "notification",
        sa.Column("channel", sa.String(16), nullable=False, server_default=sa.text("'team'")),
        schema=SCHEMA,
    )
    op.add_column("notification", sa.Column("recipient", sa.Text()), schema=SCHEMA)
    op.create_check_constraint(
        op.f("ck_notification_channel_known"),
        "notification",
        "channel IN ('team', 'slack', 'email')",
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_notification_channel_known"), "notification", schema=SCHEMA)
    op.drop_column("notification", "recipient", schema=SCHEMA)
    op.drop_column("notification", "channel", schema=SCHEMA)
    op.drop_column("rep", "notify_channels", schema=SCHEMA)
    op.drop_column("rep", "slack_user_id", schema=SCHEMA)
    op.drop_column("rep", "slack_webhook_url", schema=SCHEMA)
