"""Outcome rollup: per UTC hour, channel and locale, how many conversations are in each settled
class, kept by triggers on `conversations` (bot/ledger/rollups.py compacts the changes).

A conversation's settled class is its outcome once the quiet window has passed (the rule of
bot/ledger/outcomes.py without the `open` case); conversations without a question are not counted.
The triggers live in the database so that no write path, present or future, can miss one.

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
    return f"{hour(row, dialect)} AS hour, {row}.channel AS channel, coalesce({row}.locale, '') AS locale, {settled(row)} AS settled"


def change(row: str, sign: int, dialect: str) -> str:
    return f"SELECT {key_of(row, dialect)}, {sign} WHERE {settled(row)} IS NOT NULL"


def key_differs(dialect: str) -> str:
    differs = "IS NOT" if dialect == "sqlite" else "IS DISTINCT FROM"
    pairs = [(settled("OLD"), settled("NEW")), (hour("OLD", dialect), hour("NEW", dialect)), ("OLD.channel", "NEW.channel"), ("coalesce(OLD.locale, '')", "coalesce(NEW.locale, '')")]
    return " OR ".join(f"({old}) {differs} ({new})" for old, new in pairs)


INSERT = "INSERT INTO outcome_changes (hour, channel, locale, settled, n)"


def create_sqlite_triggers() -> None:
    op.execute(f"CREATE TRIGGER outcome_changes_insert AFTER INSERT ON conversations BEGIN {INSERT} {change('NEW', 1, 'sqlite')}; END")
    op.execute(f"CREATE TRIGGER outcome_changes_delete AFTER DELETE ON conversations BEGIN {INSERT} {change('OLD', -1, 'sqlite')}; END")
    op.execute(
        f"CREATE TRIGGER outcome_changes_update AFTER UPDATE ON conversations WHEN {key_differs('sqlite')} BEGIN {INSERT} {change('OLD', -1, 'sqlite')}; {INSERT} {change('NEW', 1, 'sqlite')}; END"
    )


def create_postgresql_triggers() -> None:
    op.execute(
        f"""CREATE FUNCTION outcome_changes_of_conversation() RETURNS trigger LANGUAGE plpgsql AS $$
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


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "outcome_hours",
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("locale", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("settled", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*KEY),
    )
    op.create_table(
        "outcome_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("locale", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("settled", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # The reports' live part: conversations still inside the quiet window.
    op.create_index("ix_conversations_last_activity", "conversations", ["last_activity_at"])
    create_sqlite_triggers() if dialect == "sqlite" else create_postgresql_triggers()
    # The conversations already recorded, counted once (in the same transaction as the triggers).
    counted = f"SELECT {key_of('c', dialect)} FROM conversations AS c WHERE {settled('c')} IS NOT NULL"
    op.execute(f"INSERT INTO outcome_hours (hour, channel, locale, settled, n) SELECT hour, channel, locale, settled, count(*) FROM ({counted}) AS counted GROUP BY hour, channel, locale, settled")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER outcome_changes_{name}")
    else:
        op.execute("DROP TRIGGER outcome_changes ON conversations")
        op.execute("DROP FUNCTION outcome_changes_of_conversation()")
    op.drop_index("ix_conversations_last_activity", table_name="conversations")
    op.drop_table("outcome_changes")
    op.drop_table("outcome_hours")
