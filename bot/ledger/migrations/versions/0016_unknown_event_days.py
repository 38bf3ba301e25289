"""Unknown event names per UTC day (`unknown_event_days`), kept as the outcome rollup is
(migration 0008): triggers on onboarding_events append +1 / -1 to `unknown_event_changes`, which
`bot.ledger.rollups.compact_changes` folds into the days.

The summary lists the product's event names the checklist does not know, with their counts over
the period. At a million conversations that was a scan of the 200,000 `page.viewed` events of the
period, a quarter of the summary on SQLite. The summary now reads the period's whole UTC days
here (plus the changes not folded yet) and the events of its first and last partial day.

Counted as the summary counts them: not known to the checklist when received, and not a name jiso
records itself (`jiso.` prefix, bot.ledger.events.JISO_EVENT_PREFIX; LIKE, as the report's query).
Appends, not counters: an ingest of `page.viewed` never waits on another's lock.

Revision ID: 0016_unknown_event_days
Revises: 0015_report_indexes
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0016_unknown_event_days"
down_revision = "0015_report_indexes"
branch_labels = None
depends_on = None

INSERT = "INSERT INTO unknown_event_changes (day, name, n)"


def day(row: str, dialect: str) -> str:
    if dialect == "sqlite":  # instants are stored as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC)
        return f"substr({row}.occurred_at, 1, 10) || ' 00:00:00.000000'"
    return f"date_trunc('day', {row}.occurred_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"


def counted(row: str) -> str:
    return f"(NOT {row}.known AND {row}.name NOT LIKE 'jiso.%')"


def change(row: str, sign: int, dialect: str) -> str:
    return f"{INSERT} SELECT {day(row, dialect)}, {row}.name, {sign} WHERE {counted(row)}"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name

    def counts() -> list[sa.Column]:
        day = sa.Column("day", sa.DateTime(timezone=True), nullable=False)
        return [day, sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False), sa.Column("n", sa.Integer(), nullable=False)]

    op.create_table("unknown_event_days", *counts(), sa.PrimaryKeyConstraint("day", "name"), sqlite_with_rowid=False)
    change_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # two ids per moved event, never reused on PostgreSQL
    op.create_table("unknown_event_changes", sa.Column("id", change_id, nullable=False), *counts(), sa.PrimaryKeyConstraint("id"))
    if dialect == "sqlite":
        op.execute(f"CREATE TRIGGER unknown_event_changes_insert AFTER INSERT ON onboarding_events BEGIN {change('NEW', 1, dialect)}; END")
        op.execute(f"CREATE TRIGGER unknown_event_changes_delete AFTER DELETE ON onboarding_events BEGIN {change('OLD', -1, dialect)}; END")
        op.execute(f"CREATE TRIGGER unknown_event_changes_update AFTER UPDATE OF known, name, occurred_at ON onboarding_events BEGIN {change('OLD', -1, dialect)}; {change('NEW', 1, dialect)}; END")
    else:
        # OLD is NULL on INSERT and NEW on DELETE: each read only under its own TG_OP.
        op.execute(
            f"""CREATE FUNCTION unknown_event_changes_of_event() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        {change("OLD", -1, dialect)};
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        {change("NEW", 1, dialect)};
    END IF;
    RETURN NULL;
END $$"""
        )
        # Locks onboarding_events against writes until this migration commits: the count below
        # sees every event, and every later one comes through the trigger.
        op.execute(
            "CREATE TRIGGER unknown_event_changes AFTER INSERT OR UPDATE OF known, name, occurred_at OR DELETE ON onboarding_events FOR EACH ROW EXECUTE FUNCTION unknown_event_changes_of_event()"
        )
    # The events already recorded, counted once: as changes, folded in by the first compaction.
    op.execute(f"{INSERT} SELECT {day('e', dialect)}, e.name, count(*) FROM onboarding_events AS e WHERE {counted('e')} GROUP BY 1, 2")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER unknown_event_changes_{name}")
    else:
        op.execute("DROP TRIGGER unknown_event_changes ON onboarding_events")
        op.execute("DROP FUNCTION unknown_event_changes_of_event()")
    op.drop_table("unknown_event_changes")
    op.drop_table("unknown_event_days")
