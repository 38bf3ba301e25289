"""Outcome rollup per organization and UTC month over every channel and locale
(`outcome_org_month_totals`), the sum of `outcome_org_months` without those two columns, kept by
triggers on `outcome_org_months`.

The organizations report without a channel or locale filter reads whole months here: a quarter of
the rows of `outcome_org_months` (two channels by two locales), which took most of its time at ten
million conversations. Triggers, as for the months (migration 0010): every write to a month count,
by a fold of any version, moves its total too.

Revision ID: 0014_outcome_org_month_totals
Revises: 0013_sole_handovers
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0014_outcome_org_month_totals"
down_revision = "0013_sole_handovers"
branch_labels = None
depends_on = None

INSERT = "INSERT INTO outcome_org_month_totals (month, org_id, settled, n)"
ADD = "ON CONFLICT (month, org_id, settled) DO UPDATE SET n = outcome_org_month_totals.n + excluded.n"


def add(row: str, n: str) -> str:
    """Add `n` to the total of the month row `row` (NEW or OLD)."""
    # WHERE true: SQLite's upsert needs it after a SELECT without FROM (its parsing ambiguity).
    return f"{INSERT} SELECT {row}.month, {row}.org_id, {row}.settled, {n} WHERE true {ADD}"


def upgrade() -> None:
    op.create_table(
        "outcome_org_month_totals",
        sa.Column("month", sa.DateTime(timezone=True), nullable=False),
        sa.Column("org_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("settled", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("month", "org_id", "settled"),
        sqlite_with_rowid=False,
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"CREATE TRIGGER outcome_org_month_totals_insert AFTER INSERT ON outcome_org_months BEGIN {add('NEW', 'NEW.n')}; END")
        op.execute(f"CREATE TRIGGER outcome_org_month_totals_delete AFTER DELETE ON outcome_org_months BEGIN {add('OLD', '-OLD.n')}; END")
        op.execute(f"CREATE TRIGGER outcome_org_month_totals_update AFTER UPDATE ON outcome_org_months BEGIN {add('OLD', '-OLD.n')}; {add('NEW', 'NEW.n')}; END")
    else:
        op.execute(
            f"""CREATE FUNCTION outcome_org_month_totals_of_month() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        {add("OLD", "-OLD.n")};
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        {add("NEW", "NEW.n")};
    END IF;
    RETURN NULL;
END $$"""
        )
        # Locks outcome_org_months until this migration commits: a fold by another instance waits
        # (its day trigger writes the months), then moves the totals too; the sum below sees every month.
        op.execute("CREATE TRIGGER outcome_org_month_totals AFTER INSERT OR UPDATE OR DELETE ON outcome_org_months FOR EACH ROW EXECUTE FUNCTION outcome_org_month_totals_of_month()")
    op.execute(f"{INSERT} SELECT month, org_id, settled, sum(n) FROM outcome_org_months GROUP BY month, org_id, settled")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER outcome_org_month_totals_{name}")
    else:
        op.execute("DROP TRIGGER outcome_org_month_totals ON outcome_org_months")
        op.execute("DROP FUNCTION outcome_org_month_totals_of_month()")
    op.drop_table("outcome_org_month_totals")
