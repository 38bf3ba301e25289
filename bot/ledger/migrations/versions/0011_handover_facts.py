"""Hand-over facts (`handover_facts`): one row per hand-over with what the reports ask of it and
of its conversation (when the conversation began, its organization, channel, locale, whether it
had a question, when it was first handed over) and of its replies (the first person's reply),
kept by triggers on `escalations`, `person_replies` and `conversations`.

The summary's hand-over results and the open hand-overs per organization read these rows alone:
joining a million hand-overs to ten million conversations took most of a report's time.

Concurrency (PostgreSQL, read committed): a trigger's subquery reads the snapshot its statement
began with, so each trigger writes only what its own row says. A new hand-over copies its
conversation's columns while holding the conversation's row lock (bot/ledger/writes.py), as every
write to a conversation does, whose trigger copies them again; a close writes only the hand-over's
own columns (it locks the hand-over alone); a new reply moves `first_reply_at` by comparing with the
fact's own value, which PostgreSQL re-reads after waiting for a concurrent writer, not by a min over
the replies its snapshot sees.
SQLite drops a table's triggers when it is recreated: a later migration that alters one of these
tables in batch mode on SQLite must create them again.

Revision ID: 0011_handover_facts
Revises: 0010_outcome_org_months
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0011_handover_facts"
down_revision = "0010_outcome_org_months"
branch_labels = None
depends_on = None

CONVERSATION = ("started_at", "org_id", "channel", "locale", "asked", "escalated_at")


def of_conversation(c: str) -> str:
    """The conversation columns of a fact, from the conversation row `c`, in CONVERSATION's order."""
    return f"{c}.created_at, {c}.org_id, {c}.channel, {c}.locale, {c}.turn_count > 0, {c}.escalated_at"


# A hand-over's replies reference it, so it has none when it is inserted.
INSERT_FACT = (
    "INSERT INTO handover_facts (escalation_id, conversation_id, created_at, closed_at, first_reply_at, {columns})"
    " SELECT NEW.id, NEW.conversation_id, NEW.created_at, NEW.closed_at, NULL, {values} FROM conversations AS c WHERE c.id = NEW.conversation_id"
).format(columns=", ".join(CONVERSATION), values=of_conversation("c"))
UPDATE_FACT = "UPDATE handover_facts SET escalation_id = NEW.id, created_at = NEW.created_at, closed_at = NEW.closed_at WHERE escalation_id = OLD.id"
# Only when the hand-over moves to another conversation (nothing in jiso does).
MOVE_FACT = (
    "UPDATE handover_facts SET conversation_id = NEW.conversation_id, ({columns}) = (SELECT {values} FROM conversations AS c WHERE c.id = NEW.conversation_id) WHERE escalation_id IN (OLD.id, NEW.id)"
).format(columns=", ".join(CONVERSATION), values=of_conversation("c"))
DELETE_FACT = "DELETE FROM handover_facts WHERE escalation_id = OLD.id"
FIRST_REPLY = (
    "UPDATE handover_facts SET first_reply_at = CASE WHEN first_reply_at IS NULL OR NEW.created_at < first_reply_at THEN NEW.created_at ELSE first_reply_at END WHERE escalation_id = NEW.escalation_id"
)
REPLIES_AGAIN = "UPDATE handover_facts SET first_reply_at = (SELECT min(r.created_at) FROM person_replies AS r WHERE r.escalation_id = OLD.escalation_id) WHERE escalation_id = OLD.escalation_id"
CONVERSATION_MOVED = "UPDATE handover_facts SET ({columns}) = ({values}) WHERE conversation_id = NEW.id".format(columns=", ".join(CONVERSATION), values=of_conversation("NEW"))


def differs(pairs: list[tuple[str, str]], dialect: str) -> str:
    op_ = "IS NOT" if dialect == "sqlite" else "IS DISTINCT FROM"
    return " OR ".join(f"({old}) {op_} ({new})" for old, new in pairs)


def escalation_changed(dialect: str) -> str:
    return differs([(f"OLD.{c}", f"NEW.{c}") for c in ("id", "conversation_id", "created_at", "closed_at")], dialect)


def escalation_moved(dialect: str) -> str:
    return differs([("OLD.conversation_id", "NEW.conversation_id")], dialect)


def reply_changed(dialect: str) -> str:
    return differs([(f"OLD.{c}", f"NEW.{c}") for c in ("escalation_id", "created_at")], dialect)


def conversation_changed(dialect: str) -> str:
    pairs = [(f"OLD.{c}", f"NEW.{c}") for c in ("created_at", "org_id", "channel", "locale", "escalated_at")]
    return differs([*pairs, ("OLD.turn_count > 0", "NEW.turn_count > 0")], dialect)


def create_sqlite_triggers() -> None:
    triggers = {
        "handover_facts_insert": f"AFTER INSERT ON escalations BEGIN {INSERT_FACT}; END",
        "handover_facts_update": f"AFTER UPDATE ON escalations WHEN {escalation_changed('sqlite')} BEGIN {UPDATE_FACT}; END",
        "handover_facts_move": f"AFTER UPDATE ON escalations WHEN {escalation_moved('sqlite')} BEGIN {MOVE_FACT}; END",
        "handover_facts_delete": f"AFTER DELETE ON escalations BEGIN {DELETE_FACT}; END",
        "handover_facts_reply_insert": f"AFTER INSERT ON person_replies BEGIN {FIRST_REPLY}; END",
        "handover_facts_reply_update": f"AFTER UPDATE ON person_replies WHEN {reply_changed('sqlite')} BEGIN {REPLIES_AGAIN}; {FIRST_REPLY}; END",
        "handover_facts_reply_delete": f"AFTER DELETE ON person_replies BEGIN {REPLIES_AGAIN}; END",
        "handover_facts_conversation": f"AFTER UPDATE ON conversations WHEN {conversation_changed('sqlite')} BEGIN {CONVERSATION_MOVED}; END",
    }
    for name, body in triggers.items():
        op.execute(f"CREATE TRIGGER {name} {body}")


def plpgsql(name: str, body: str) -> None:
    op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$\nBEGIN\n{body}\n    RETURN NULL;\nEND $$")


def create_postgresql_triggers() -> None:
    plpgsql(
        "handover_facts_of_escalation",
        f"    IF TG_OP = 'INSERT' THEN {INSERT_FACT}; ELSIF TG_OP = 'DELETE' THEN {DELETE_FACT}; ELSE {UPDATE_FACT}; END IF;\n"
        f"    IF TG_OP = 'UPDATE' AND ({escalation_moved('postgresql')}) THEN {MOVE_FACT}; END IF;",
    )
    plpgsql("handover_facts_of_reply", f"    IF TG_OP IN ('UPDATE', 'DELETE') THEN {REPLIES_AGAIN}; END IF;\n    IF TG_OP IN ('UPDATE', 'INSERT') THEN {FIRST_REPLY}; END IF;")
    plpgsql("handover_facts_of_conversation", f"    {CONVERSATION_MOVED};")
    # Each takes a lock on its table until this migration commits: a write by another instance
    # waits, then moves the facts too; the copy below sees every row written before.
    run = "FOR EACH ROW EXECUTE FUNCTION"
    op.execute(f"CREATE TRIGGER handover_facts AFTER INSERT OR DELETE ON escalations {run} handover_facts_of_escalation()")
    op.execute(f"CREATE TRIGGER handover_facts_update AFTER UPDATE ON escalations FOR EACH ROW WHEN ({escalation_changed('postgresql')}) EXECUTE FUNCTION handover_facts_of_escalation()")
    op.execute(f"CREATE TRIGGER handover_facts AFTER INSERT OR DELETE ON person_replies {run} handover_facts_of_reply()")
    op.execute(f"CREATE TRIGGER handover_facts_update AFTER UPDATE ON person_replies FOR EACH ROW WHEN ({reply_changed('postgresql')}) EXECUTE FUNCTION handover_facts_of_reply()")
    op.execute(f"CREATE TRIGGER handover_facts AFTER UPDATE ON conversations FOR EACH ROW WHEN ({conversation_changed('postgresql')}) EXECUTE FUNCTION handover_facts_of_conversation()")


def instant(name: str, *, nullable: bool) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def text(name: str, length: int, *, nullable: bool) -> sa.Column:
    return sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=length), nullable=nullable)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "handover_facts",
        text("escalation_id", 32, nullable=False),
        text("conversation_id", 32, nullable=False),
        instant("created_at", nullable=False),
        instant("closed_at", nullable=True),
        instant("first_reply_at", nullable=True),
        instant("started_at", nullable=False),
        text("org_id", 128, nullable=True),
        text("channel", 16, nullable=False),
        text("locale", 8, nullable=True),
        sa.Column("asked", sa.Boolean(), nullable=False),
        instant("escalated_at", nullable=True),
        sa.PrimaryKeyConstraint("escalation_id"),
    )
    op.create_index("ix_handover_facts_started", "handover_facts", ["started_at"])
    op.create_index("ix_handover_facts_org_started", "handover_facts", ["org_id", "started_at"])
    op.create_index("ix_handover_facts_conversation", "handover_facts", ["conversation_id"])
    create_sqlite_triggers() if dialect == "sqlite" else create_postgresql_triggers()
    columns = ", ".join(CONVERSATION)
    op.execute(
        f"INSERT INTO handover_facts (escalation_id, conversation_id, created_at, closed_at, first_reply_at, {columns})"
        f" SELECT x.id, x.conversation_id, x.created_at, x.closed_at, r.first_reply_at, {of_conversation('c')}"
        " FROM escalations AS x JOIN conversations AS c ON c.id = x.conversation_id"
        " LEFT JOIN (SELECT escalation_id, min(created_at) AS first_reply_at FROM person_replies GROUP BY escalation_id) AS r ON r.escalation_id = x.id"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("insert", "update", "move", "delete", "reply_insert", "reply_update", "reply_delete", "conversation"):
            op.execute(f"DROP TRIGGER handover_facts_{name}")
    else:
        for trigger, table in (
            ("handover_facts", "escalations"),
            ("handover_facts_update", "escalations"),
            ("handover_facts", "person_replies"),
            ("handover_facts_update", "person_replies"),
            ("handover_facts", "conversations"),
        ):
            op.execute(f"DROP TRIGGER {trigger} ON {table}")
        for function in ("handover_facts_of_escalation", "handover_facts_of_reply", "handover_facts_of_conversation"):
            op.execute(f"DROP FUNCTION {function}()")
    op.drop_table("handover_facts")
