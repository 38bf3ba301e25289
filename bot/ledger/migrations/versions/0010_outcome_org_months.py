"""Outcome rollup per organization and UTC month (`outcome_org_months`), the sum of
`outcome_org_days` by month, kept by triggers on `outcome_org_days`.

At a few conversations per organization and day the day rollup holds about a row per
conversation; the organizations report reads whole months here and only the days at a window's
ends there. Triggers, not the fold: an instance still running the previous version folds into the
days alone while the others upgrade, and every write to a day count moves its month's count too.

Revision ID: 0010_outcome_org_months
Revises: 0009_onboarding_states
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0010_outcome_org_months"
down_revision = "0009_onboarding_states"
branch_labels = None
depends_on = None

KEY = ("month", "org_id", "channel", "locale", "settled")
INSERT = "INSERT INTO outcome_org_months (month, org_id, channel, locale, settled, n)"
ADD = "ON CONFLICT (month, org_id, channel, locale, settled) DO UPDATE SET n = outcome_org_months.n + excluded.n"


def month(row: str, dialect: str) -> str:
    if dialect == "sqlite":  # instants are stored as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC)
        return f"substr({row}.day, 1, 7) || '-01 00:00:00.000000'"
    return f"date_trunc('month', {row}.day AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"


def add(row: str, n: str, dialect: str) -> str:
    """Add `n` to the month of the day row `row` (NEW or OLD)."""
    # WHERE true: SQLite's upsert needs it after a SELECT without FROM (its parsing ambiguity).
    return f"{INSERT} SELECT {month(row, dialect)}, {row}.org_id, {row}.channel, {row}.locale, {row}.settled, {n} WHERE true {ADD}"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "outcome_org_months",
        sa.Column("month", sa.DateTime(timezone=True), nullable=False),
        sa.Column("org_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("locale", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("settled", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*KEY),
        sqlite_with_rowid=False,
    )
    if dialect == "sqlite":
        op.execute(f"CREATE TRIGGER outcome_org_months_insert AFTER INSERT ON outcome_org_days BEGIN {add('NEW', 'NEW.n', dialect)}; END")
        op.execute(f"CREATE TRIGGER outcome_org_months_delete AFTER DELETE ON outcome_org_days BEGIN {add('OLD', '-OLD.n', dialect)}; END")
        op.execute(f"CREATE TRIGGER outcome_org_months_update AFTER UPDATE ON outcome_org_days BEGIN {add('OLD', '-OLD.n', dialect)}; {add('NEW', 'NEW.n', dialect)}; END")
    else:
        op.execute(
            f"""CREATE FUNCTION outcome_org_months_of_day() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        {add("OLD", "-OLD.n", dialect)};
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        {add("NEW", "NEW.n", dialect)};
    END IF;
    RETURN NULL;
END $$"""
        )
        # Takes a lock on outcome_org_days until this migration commits: a fold by another
        # instance waits, then moves the months too; the sum below sees every day count.
        op.execute("CREATE TRIGGER outcome_org_months AFTER INSERT OR UPDATE OR DELETE ON outcome_org_days FOR EACH ROW EXECUTE FUNCTION outcome_org_months_of_day()")
    op.execute(
        f"{INSERT} SELECT m.month, m.org_id, m.channel, m.locale, m.settled, sum(m.n) FROM (SELECT {month('d', dialect)} AS month, d.org_id, d.channel, d.locale, d.settled, d.n FROM outcome_org_days AS d) AS m GROUP BY m.month, m.org_id, m.channel, m.locale, m.settled"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER outcome_org_months_{name}")
    else:
        op.execute("DROP TRIGGER outcome_org_months ON outcome_org_days")
        op.execute("DROP FUNCTION outcome_org_months_of_day()")
    op.drop_table("outcome_org_months")
