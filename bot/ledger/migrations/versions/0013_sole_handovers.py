"""Whether a hand-over is its conversation's only one (`handover_facts.sole`), kept by triggers
on `handover_facts` itself (a fact is written for every hand-over, migration 0011).

`resolved_by_person` counts the conversations whose every hand-over a person closed: grouping a
million hand-overs by conversation took a second and a half of the summary at ten million
conversations, though nearly every conversation is handed over once. The report counts the sole
hand-overs one by one and groups only the others.

A new fact comes in as sole (the column's default) and its trigger, in the same statement,
marks it and its conversation's other facts false when there are several: so the usual hand-over
writes its fact once, and neither the trigger nor this upgrade rewrites the facts of conversations
handed over once (PostgreSQL adds a column with a constant default without rewriting the table).
Concurrency (PostgreSQL, read committed): a new hand-over is written while holding its
conversation's row lock (bot/ledger/writes.py), so the trigger's count of the conversation's
facts, a statement taken after that lock, sees every hand-over committed before it.

Revision ID: 0013_sole_handovers
Revises: 0012_onboarding_state_orgs
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_sole_handovers"
down_revision = "0012_onboarding_state_orgs"
branch_labels = None
depends_on = None

ONLY_ONE = "((SELECT count(*) FROM handover_facts AS f WHERE f.conversation_id = handover_facts.conversation_id) = 1)"
# Writes only the facts whose mark changes (IS NOT: SQLite's IS DISTINCT FROM).
SOLE = f"UPDATE handover_facts SET sole = {ONLY_ONE} WHERE conversation_id = {{row}}.conversation_id AND sole {{differs}} {ONLY_ONE}"
SQLITE_TRIGGERS = {
    "handover_facts_sole_insert": f"AFTER INSERT ON handover_facts BEGIN {SOLE.format(row='NEW', differs='IS NOT')}; END",
    "handover_facts_sole_move": f"AFTER UPDATE OF conversation_id ON handover_facts WHEN OLD.conversation_id IS NOT NEW.conversation_id BEGIN {SOLE.format(row='OLD', differs='IS NOT')}; {SOLE.format(row='NEW', differs='IS NOT')}; END",
    "handover_facts_sole_delete": f"AFTER DELETE ON handover_facts BEGIN {SOLE.format(row='OLD', differs='IS NOT')}; END",
}


def create_postgresql_triggers() -> None:
    op.execute(
        f"""CREATE FUNCTION handover_facts_sole() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        {SOLE.format(row="OLD", differs="IS DISTINCT FROM")};
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        {SOLE.format(row="NEW", differs="IS DISTINCT FROM")};
    END IF;
    RETURN NULL;
END $$"""
    )
    # Setting `sole` fires no trigger: the update trigger is for a fact moved to another conversation.
    op.execute("CREATE TRIGGER handover_facts_sole AFTER INSERT OR DELETE ON handover_facts FOR EACH ROW EXECUTE FUNCTION handover_facts_sole()")
    op.execute(
        "CREATE TRIGGER handover_facts_sole_move AFTER UPDATE OF conversation_id ON handover_facts FOR EACH ROW"
        " WHEN (OLD.conversation_id IS DISTINCT FROM NEW.conversation_id) EXECUTE FUNCTION handover_facts_sole()"
    )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    # A plain ADD COLUMN (no batch mode): SQLite keeps the table, and so the triggers of 0011 on it.
    # PostgreSQL locks the facts until this migration commits: a hand-over written meanwhile waits.
    op.add_column("handover_facts", sa.Column("sole", sa.Boolean(), nullable=False, server_default=sa.true()))
    # The hand-overs the report groups by conversation: few, found without reading the others.
    shared = sa.text("NOT sole")
    op.create_index("ix_handover_facts_shared", "handover_facts", ["started_at"], postgresql_where=shared, sqlite_where=shared)
    if dialect == "sqlite":
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
    else:
        create_postgresql_triggers()
    op.execute("UPDATE handover_facts SET sole = false WHERE conversation_id IN (SELECT conversation_id FROM handover_facts GROUP BY conversation_id HAVING count(*) > 1)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    else:
        op.execute("DROP TRIGGER handover_facts_sole_move ON handover_facts")
        op.execute("DROP TRIGGER handover_facts_sole ON handover_facts")
        op.execute("DROP FUNCTION handover_facts_sole()")
    op.drop_index("ix_handover_facts_shared", "handover_facts")
    op.drop_column("handover_facts", "sole")
