"""Folding the triggers' appended changes into the rollups' counts: the outcome changes
(migration 0008) and the unknown event names' (migration 0016).

The reports read counts plus changes, so compacting never changes a number: it only keeps the
changes table short. It moves rows in one transaction, so a report (one statement, one snapshot)
sees each change either as a change or inside a count, never both and never neither.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Engine

# Each compacted table's key: (column, the expression over a change row that gives it).
_DAY = {"sqlite": "substr(hour, 1, 10) || ' 00:00:00.000000'", "postgresql": "date_trunc('day', hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"}
_COMMON = [("channel", "channel"), ("locale", "locale"), ("settled", "settled")]
SQLITE_BATCH = 50_000  # ~0.2 s of holding the write lock on the benchmark machine


def _outcome_folds(dialect: str, source: str) -> dict[str, str]:
    """Per compacted table, the statement adding the outcome changes of `source` into it."""
    keys = {"outcome_hours": [("hour", "hour"), *_COMMON], "outcome_org_days": [("day", _DAY[dialect]), ("org_id", "org_id"), *_COMMON]}
    folds = {}
    for table, key in keys.items():
        columns, expressions = ", ".join(c for c, _ in key), ", ".join(e for _, e in key)
        folds[table] = f"INSERT INTO {table} ({columns}, n) SELECT {expressions}, sum(n) FROM {source} GROUP BY {expressions} ON CONFLICT ({columns}) DO UPDATE SET n = {table}.n + excluded.n"
    return folds


def _unknown_event_folds(dialect: str, source: str) -> dict[str, str]:
    table = "unknown_event_days"
    return {table: f"INSERT INTO {table} (day, name, n) SELECT day, name, sum(n) FROM {source} GROUP BY day, name ON CONFLICT (day, name) DO UPDATE SET n = {table}.n + excluded.n"}


@dataclass(frozen=True)
class _Changes:
    table: str
    columns: str  # of a change, as its folds read it
    folds: Callable[[str, str], dict[str, str]]  # (dialect, source of changes) -> statements


OUTCOMES = _Changes("outcome_changes", "hour, org_id, channel, locale, settled, n", _outcome_folds)
UNKNOWN_EVENTS = _Changes("unknown_event_changes", "day, name, n", _unknown_event_folds)


def compact_changes(database: Engine) -> int:
    """Fold every committed change of both logs into their rollups (the upkeep's step); how many were moved."""
    return compact_outcome_changes(database) + compact(database, UNKNOWN_EVENTS)


def compact_outcome_changes(database: Engine) -> int:
    """Move every committed change into `outcome_hours` and `outcome_org_days`; how many were moved."""
    return compact(database, OUTCOMES)


def compact(database: Engine, changes: _Changes) -> int:
    """Move every committed change of `changes` into its rollups; how many were moved."""
    if database.dialect.name == "sqlite":
        moved = 0
        while (batch := _compact_sqlite_batch(database, changes)) == SQLITE_BATCH:
            moved += batch
        return moved + batch
    with database.begin() as connection:
        # One statement: the rows deleted are exactly the rows summed, whatever commits meanwhile;
        # a second compaction running at once waits for these rows and then finds them gone.
        folded = ", ".join(f"folded_{table} AS ({fold} RETURNING 1)" for table, fold in changes.folds("postgresql", "moved").items())
        moved = connection.execute(text(f"WITH moved AS (DELETE FROM {changes.table} RETURNING {changes.columns}), {folded} SELECT count(*) FROM moved"))
        return int(moved.scalar_one())


def _compact_sqlite_batch(database: Engine, changes: _Changes) -> int:
    """The oldest SQLITE_BATCH changes, in one transaction: it holds the database's write lock, so a
    backlog (the first fold after an upgrade) goes in steps writers can wait out (busy_timeout)."""
    batch = f"{changes.table} WHERE id <= (SELECT min(id) FROM {changes.table}) + {SQLITE_BATCH - 1}"
    with database.begin() as connection:
        # The first INSERT is the transaction's first statement and a write: it takes the write
        # lock before reading, so the batch is the same rows in the DELETE.
        for fold in changes.folds("sqlite", batch).values():
            connection.execute(text(fold))
        return connection.execute(text(f"DELETE FROM {batch}")).rowcount
