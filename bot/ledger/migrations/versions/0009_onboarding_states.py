"""Onboarding states: each user's settled onboarding (onboarding_states) and which users changed
since (onboarding_dirty), marked by triggers so that no write path can forget it. Every user with
events or conversations starts dirty (`bot.reports.onboarding_states` computes them).

SQLite drops a table's triggers when it is recreated: a later migration that alters
onboarding_events or conversations with batch mode on SQLite must create these triggers again.

Revision ID: 0009_onboarding_states
Revises: 0008_outcome_rollup
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_onboarding_states"
down_revision = "0008_outcome_rollup"
branch_labels = None
depends_on = None

# What queries.user_rows reads of a conversation: other updates (last_activity_at, …) mark nobody.
# Any change to an event marks its user.
CONVERSATION_COLUMNS = ("user_id", "turn_count", "created_at", "escalated_at", "channel", "locale")
TRIGGERS = {  # name: (table, event)
    "onboarding_dirty_event_insert": ("onboarding_events", "INSERT"),
    "onboarding_dirty_event_update": ("onboarding_events", "UPDATE"),
    "onboarding_dirty_event_delete": ("onboarding_events", "DELETE"),
    "onboarding_dirty_conversation_insert": ("conversations", "INSERT"),
    "onboarding_dirty_conversation_update": ("conversations", "UPDATE"),
    "onboarding_dirty_conversation_delete": ("conversations", "DELETE"),
}


def _changed(columns: tuple[str, ...], distinct: str) -> str:
    return " OR ".join(f"NEW.{c} {distinct} OLD.{c}" for c in columns)


def _sqlite_triggers() -> list[str]:
    def mark(row: str) -> str:
        return f"INSERT INTO onboarding_dirty (user_id, version) SELECT {row}.user_id, 1 WHERE {row}.user_id IS NOT NULL ON CONFLICT (user_id) DO UPDATE SET version = version + 1;"

    statements = []
    for name, (table, event) in TRIGGERS.items():
        rows = {"INSERT": ["NEW"], "UPDATE": ["NEW", "OLD"], "DELETE": ["OLD"]}[event]
        when = f" WHEN {_changed(CONVERSATION_COLUMNS, 'IS NOT')}" if (table, event) == ("conversations", "UPDATE") else ""
        statements.append(f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW{when} BEGIN {' '.join(mark(row) for row in rows)} END")
    return statements


POSTGRES_FUNCTION = """
CREATE FUNCTION onboarding_mark_dirty() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP <> 'DELETE' THEN
        IF NEW.user_id IS NOT NULL THEN
            INSERT INTO onboarding_dirty (user_id, version) VALUES (NEW.user_id, 1)
            ON CONFLICT (user_id) DO UPDATE SET version = onboarding_dirty.version + 1;
        END IF;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        IF OLD.user_id IS NOT NULL THEN
            INSERT INTO onboarding_dirty (user_id, version) VALUES (OLD.user_id, 1)
            ON CONFLICT (user_id) DO UPDATE SET version = onboarding_dirty.version + 1;
        END IF;
    END IF;
    RETURN NULL;
END
$$
"""


def _postgres_triggers() -> list[str]:
    statements = [POSTGRES_FUNCTION]
    for name, (table, event) in TRIGGERS.items():
        when = f" WHEN ({_changed(CONVERSATION_COLUMNS, 'IS DISTINCT FROM')})" if (table, event) == ("conversations", "UPDATE") else ""
        statements.append(f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW{when} EXECUTE FUNCTION onboarding_mark_dirty()")
    return statements


def upgrade() -> None:
    op.create_table(
        "onboarding_states",
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("checklist_key", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("self_serve", sa.Boolean(), nullable=False),
        sa.Column("involved", sa.Boolean(), nullable=False),
        sa.Column("steps_done", sa.BigInteger(), nullable=False),
        sa.Column("facts_until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "onboarding_dirty",
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
    )
    for statement in _sqlite_triggers() if op.get_bind().dialect.name == "sqlite" else _postgres_triggers():
        op.execute(statement)
    op.execute(
        "INSERT INTO onboarding_dirty (user_id, version) "
        "SELECT user_id, 1 FROM (SELECT user_id FROM onboarding_events UNION SELECT user_id FROM conversations WHERE user_id IS NOT NULL) AS users"
    )  # fmt: skip


def downgrade() -> None:
    postgres = op.get_bind().dialect.name != "sqlite"
    for name, (table, _) in TRIGGERS.items():
        op.execute(f"DROP TRIGGER {name} ON {table}" if postgres else f"DROP TRIGGER {name}")
    if postgres:
        op.execute("DROP FUNCTION onboarding_mark_dirty()")
    op.drop_table("onboarding_dirty")
    op.drop_table("onboarding_states")
