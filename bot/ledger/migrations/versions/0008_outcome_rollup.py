"""Outcome rollups: per UTC hour, channel and locale (`outcome_hours`), and per UTC day and
organization (`outcome_org_days`), how many conversations are in each settled class, kept by
triggers on `conversations` that append to `outcome_changes` (bot/ledger/rollups.py folds them in).

A conversation's settled class is its outcome once the quiet window has passed (the rule of
bot/ledger/outcomes.py without the `open` case); conversations without a question are not counted.
The triggers live in the database so that no write path, present or future, can miss one (except
what bypasses row triggers: PostgreSQL's TRUNCATE; the functions are bound to their schema).
SQLite drops a table's triggers when it is recreated: a later migration that alters
`conversations` in batch mode on SQLite must create these triggers again.

Revision ID: 0008_outcome_rollup
Revises: 0007_job_queue
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0008_outcome_rollup"
down_revision = "0007_job_queue"
branch_labels = None
depends_on = None

KEY = ("hour", "channel", "locale", "settled")
ORG_KEY = ("day", "org_id", "channel", "locale", "settled")


def settled(row: str) -> str:
    """The settled class of `row` (NEW or OLD) as SQL; NULL for a conversation without a question."""
    return (
        f"CASE WHEN {row}.turn_count <= 0 THEN NULL"
        f" WHEN {row}.escalated_at IS NOT NULL THEN 'escalated'"
        f" WHEN {row}.confirmed_at IS NOT NULL THEN 'resolved_confirmed'"
        f" WHEN {row}.last_turn_answered AND NOT {row}.last_turn_not_helpful THEN 'resolved_assumed'"
        " ELSE 'unanswered' END"
    )


def hour(row: str, dialect: str) -> str:
    if dialect == "sqlite":  # instants are stored as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC)
        return f"substr({row}.created_at, 1, 13) || ':00:00.000000'"
    return f"date_trunc('hour', {row}.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"


def key_of(row: str, dialect: str) -> str:
    return f"{hour(row, dialect)} AS hour, coalesce({row}.org_id, '') AS org_id, {row}.channel AS channel, coalesce({row}.locale, '') AS locale, {settled(row)} AS settled"


def change(row: str, sign: int, dialect: str) -> str:
    return f"SELECT {key_of(row, dialect)}, {sign} WHERE {settled(row)} IS NOT NULL"


def key_differs(dialect: str) -> str:
    differs = "IS NOT" if dialect == "sqlite" else "IS DISTINCT FROM"
    pairs = [(settled("OLD"), settled("NEW")), (hour("OLD", dialect), hour("NEW", dialect)), ("OLD.org_id", "NEW.org_id"), ("OLD.channel", "NEW.channel"), ("OLD.locale", "NEW.locale")]
    return " OR ".join(f"({old}) {differs} ({new})" for old, new in pairs)


INSERT = "INSERT INTO outcome_changes (hour, org_id, channel, locale, settled, n)"


def create_sqlite_triggers() -> None:
    op.execute(f"CREATE TRIGGER outcome_changes_insert AFTER INSERT ON conversations BEGIN {INSERT} {change('NEW', 1, 'sqlite')}; END")
    op.execute(f"CREATE TRIGGER outcome_changes_delete AFTER DELETE ON conversations BEGIN {INSERT} {change('OLD', -1, 'sqlite')}; END")
    op.execute(
        f"CREATE TRIGGER outcome_changes_update AFTER UPDATE ON conversations WHEN {key_differs('sqlite')} BEGIN {INSERT} {change('OLD', -1, 'sqlite')}; {INSERT} {change('NEW', 1, 'sqlite')}; END"
    )


def create_postgresql_triggers() -> None:
    op.execute(
        f"""CREATE FUNCTION outcome_changes_of_conversation() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NOT ({key_differs("postgresql")}) THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        {INSERT} {change("OLD", -1, "postgresql")};
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        {INSERT} {change("NEW", 1, "postgresql")};
    END IF;
    RETURN NULL;
END $$"""
    )
    op.execute("CREATE TRIGGER outcome_changes AFTER INSERT OR UPDATE OR DELETE ON conversations FOR EACH ROW EXECUTE FUNCTION outcome_changes_of_conversation()")


def instant(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def org() -> sa.Column:
    return sa.Column("org_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False)  # '' for none


def counted() -> list[sa.Column]:
    return [
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("locale", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("settled", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
    ]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    # Clustered by the key on SQLite too: a report's range scan reads the counts in the index.
    op.create_table("outcome_hours", instant("hour"), *counted(), sa.PrimaryKeyConstraint(*KEY), sqlite_with_rowid=False)
    op.create_table("outcome_org_days", instant("day"), org(), *counted(), sa.PrimaryKeyConstraint(*ORG_KEY), sqlite_with_rowid=False)
    # Two ids per change of class, never reused on PostgreSQL: 64 bits (SQLite's rowid is already).
    change_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table("outcome_changes", sa.Column("id", change_id, nullable=False), instant("hour"), org(), *counted(), sa.PrimaryKeyConstraint("id"))
    # The reports' live part: conversations still inside the quiet window.
    op.create_index("ix_conversations_last_activity", "conversations", ["last_activity_at"])
    # The summary's unknown event names: counted from this index alone, without reading the events.
    op.create_index("ix_onboarding_events_known_name_time", "onboarding_events", ["known", "name", "occurred_at"])
    create_sqlite_triggers() if dialect == "sqlite" else create_postgresql_triggers()
    # The conversations already recorded, counted once: as changes, folded in by the first
    # compaction (the same path as every later change).
    op.execute(f"{INSERT} SELECT {key_of('c', dialect)}, 1 FROM conversations AS c WHERE {settled('c')} IS NOT NULL")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER outcome_changes_{name}")
    else:
        op.execute("DROP TRIGGER outcome_changes ON conversations")
        op.execute("DROP FUNCTION outcome_changes_of_conversation()")
    op.drop_index("ix_onboarding_events_known_name_time", table_name="onboarding_events")
    op.drop_index("ix_conversations_last_activity", table_name="conversations")
    for table in ("outcome_changes", "outcome_org_days", "outcome_hours"):
        op.drop_table(table)
