"""Folding the triggers' appended outcome changes into the rollups' counts (migration 0008).

The reports read counts plus changes, so compacting never changes a number: it only keeps the
changes table short. It moves rows in one transaction, so a report (one statement, one snapshot)
sees each change either as a change or inside a count, never both and never neither.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Engine

# Each compacted table's key: (column, the expression over a change row that gives it).
_DAY = {"sqlite": "substr(hour, 1, 10) || ' 00:00:00.000000'", "postgresql": "date_trunc('day', hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"}
_COMMON = [("channel", "channel"), ("locale", "locale"), ("settled", "settled")]


def _folds(dialect: str, source: str) -> dict[str, str]:
    """Per compacted table, the statement adding the changes of `source` into it."""
    keys = {"outcome_hours": [("hour", "hour"), *_COMMON], "outcome_org_days": [("day", _DAY[dialect]), ("org_id", "org_id"), *_COMMON]}
    folds = {}
    for table, key in keys.items():
        columns, expressions = ", ".join(c for c, _ in key), ", ".join(e for _, e in key)
        folds[table] = f"INSERT INTO {table} ({columns}, n) SELECT {expressions}, sum(n) FROM {source} GROUP BY {expressions} ON CONFLICT ({columns}) DO UPDATE SET n = {table}.n + excluded.n"
    return folds


def compact_outcome_changes(database: Engine) -> int:
    """Move every committed change into `outcome_hours` and `outcome_org_days`; how many were moved."""
    with database.begin() as connection:
        dialect = connection.dialect.name
        if dialect == "sqlite":
            # The first INSERT is the transaction's first statement and a write: it takes the write
            # lock before reading, so no change can be appended before the DELETE.
            for fold in _folds(dialect, "outcome_changes WHERE true").values():
                connection.execute(text(fold))
            return connection.execute(text("DELETE FROM outcome_changes")).rowcount
        # One statement: the rows deleted are exactly the rows summed, whatever commits meanwhile;
        # a second compaction running at once waits for these rows and then finds them gone.
        folded = ", ".join(f"folded_{table} AS ({fold} RETURNING 1)" for table, fold in _folds(dialect, "moved").items())
        moved = connection.execute(text(f"WITH moved AS (DELETE FROM outcome_changes RETURNING hour, org_id, channel, locale, settled, n), {folded} SELECT count(*) FROM moved"))
        return int(moved.scalar_one())
