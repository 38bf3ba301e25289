"""SQLite: indexes that let the reports read an index alone where they read every row of the
period: the hand-over facts by the hours to a close and to the first reply, the settled onboarding
states by the hours from start to completion, and the hand-over facts by organization with what
"open" asks of them.

At a million conversations SQLite spent most of the summary's hand-over time reading the period's
hundred thousand facts through `ix_handover_facts_started` (a lookup per row) and sorting them
twice; most of its onboarding time writing the completed users aside to sort them; and most of
the organizations report's open hand-overs looking up every fact from `ix_handover_facts_org_started`
(the order its grouping wanted). Each hours index is partial (only the rows that have those hours),
covers what the reports filter those rows on, and is ordered by the hours themselves: a count is a
scan of the index alone, a percentile the two rows at its rank (the live users, few, merged in).
Their expressions are `bot.reports.queries.hours_between` on SQLite, character for character:
SQLite uses an index on an expression only for the same expression (tests/reports/test_rollups.py
checks the plans).

PostgreSQL takes these percentiles with percentile_cont in the pass that reads the rows, and
groups the open hand-overs by hashing: nothing here.

Revision ID: 0015_report_indexes
Revises: 0014_outcome_org_month_totals
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0015_report_indexes"
down_revision = "0014_outcome_org_month_totals"
branch_labels = None
depends_on = None

FACTS = "started_at, asked, created_at, org_id, channel, locale"  # what the hand-over results filter the period's facts on
INDEXES = {  # name: (table, its columns, which rows)
    "ix_handover_facts_to_close": ("handover_facts", f"(julianday(closed_at) - julianday(created_at)) * 24.0, {FACTS}, closed_at, escalated_at, sole", "closed_at IS NOT NULL"),
    "ix_handover_facts_to_reply": ("handover_facts", f"(julianday(first_reply_at) - julianday(created_at)) * 24.0, {FACTS}, first_reply_at", "first_reply_at IS NOT NULL"),
    "ix_onboarding_states_to_complete": (
        "onboarding_states",
        "(julianday(completed_at) - julianday(started_at)) * 24.0, started_at, checklist_key, facts_until, user_id, completed_at",  # user_id: the dirty marks' check
        "completed_at IS NOT NULL",
    ),
    "ix_handover_facts_org_open": ("handover_facts", "org_id, created_at, closed_at, channel, locale", None),
}


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name, (table, columns, rows) in INDEXES.items():
            op.execute(f"CREATE INDEX {name} ON {table} ({columns})" + (f" WHERE {rows}" if rows else ""))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in INDEXES:
            op.execute(f"DROP INDEX {name}")
