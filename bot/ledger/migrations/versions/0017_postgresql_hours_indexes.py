"""PostgreSQL: the hand-over facts' hours indexes SQLite has had since migration 0015, so that both
databases take the hand-over medians the same way: a count, then the two rows at the middle rank
read in hours order from an index, where PostgreSQL sorted every hand-over fact of the period
twice per summary (percentile_cont; 1.3 s at 10M conversations, ~977,000 facts).

Each index is partial (only the facts that have those hours), ordered by the hours
(`bot.reports.queries.hours_between` on PostgreSQL, in the double precision percentile_cont
interpolates in) and INCLUDEs every column the medians filter those facts on: the reads are
index-only scans of the vacuumed table. The onboarding percentiles stay a sort (percentile_cont):
PostgreSQL's planner does not read the union of settled and live users in an index's order.

Revision ID: 0017_postgresql_hours_indexes
Revises: 0016_unknown_event_days
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0017_postgresql_hours_indexes"
down_revision = "0016_unknown_event_days"
branch_labels = None
depends_on = None

FACTS = "started_at, asked, created_at, org_id, channel, locale"  # what the hand-over results filter the period's facts on


def hours(earlier: str, later: str) -> str:
    return f"CAST(EXTRACT(epoch FROM {later} - {earlier}) / 3600.0 AS FLOAT)"


INDEXES = {  # name: (table, the hours, the columns included, which rows)
    "ix_handover_facts_to_close": ("handover_facts", hours("created_at", "closed_at"), f"{FACTS}, closed_at, escalated_at, sole", "closed_at IS NOT NULL"),
    "ix_handover_facts_to_reply": ("handover_facts", hours("created_at", "first_reply_at"), f"{FACTS}, first_reply_at", "first_reply_at IS NOT NULL"),
}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, (table, key, included, rows) in INDEXES.items():
            op.execute(f"CREATE INDEX {name} ON {table} (({key})) INCLUDE ({included}) WHERE {rows}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in INDEXES:
            op.execute(f"DROP INDEX {name}")
