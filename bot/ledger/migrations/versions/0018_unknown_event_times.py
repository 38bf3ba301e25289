"""The unknown event names' index in time order: (known, occurred_at, name) where it was
(known, name, occurred_at).

Since migration 0016 the summary reads the unknown names of its whole UTC days from
`unknown_event_days` and counts only the events of its first and last partial day. Ordered by name
first, the index made each of those two counts read every unknown event's entry (PostgreSQL has no
skip scan): 2M entries twice, 0.4 s of a summary at 10M conversations, to find a few thousand. In
time order each count is a range of the index. The reference computation and an organization's
summary count whole periods, which this order serves as well (an index-only range, then grouped).

Revision ID: 0018_unknown_event_times
Revises: 0017_postgresql_hours_indexes
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0018_unknown_event_times"
down_revision = "0017_postgresql_hours_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_onboarding_events_known_time_name", "onboarding_events", ["known", "occurred_at", "name"])
    op.drop_index("ix_onboarding_events_known_name_time", table_name="onboarding_events")


def downgrade() -> None:
    op.create_index("ix_onboarding_events_known_name_time", "onboarding_events", ["known", "name", "occurred_at"])
    op.drop_index("ix_onboarding_events_known_time_name", table_name="onboarding_events")
