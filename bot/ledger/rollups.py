"""Folding the triggers' appended outcome changes into the hourly counts (migration 0008).

The reports read counts plus changes, so compacting never changes a number: it only keeps the
changes table short. It moves rows in one transaction, so a report (one statement, one snapshot)
sees each change either as a change or inside a count, never both and never neither.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Engine

_UPSERT = (
    "INSERT INTO outcome_hours (hour, channel, locale, settled, n) SELECT hour, channel, locale, settled, sum(n) FROM {source} GROUP BY hour, channel, locale, settled"
    " ON CONFLICT (hour, channel, locale, settled) DO UPDATE SET n = outcome_hours.n + excluded.n"
)


def compact_outcome_changes(database: Engine) -> int:
    """Move every committed change into `outcome_hours`; how many changes were moved."""
    with database.begin() as connection:
        if connection.dialect.name == "sqlite":
            # The INSERT is the transaction's first statement and a write: it takes the write
            # lock before reading, so no change can be appended between it and the DELETE.
            connection.execute(text(_UPSERT.format(source="outcome_changes WHERE true")))
            return connection.execute(text("DELETE FROM outcome_changes")).rowcount
        # One statement: the rows deleted are exactly the rows summed, whatever commits meanwhile;
        # a second compaction running at once waits for these rows and then finds them gone.
        upsert = _UPSERT.format(source="moved")
        return int(
            connection.execute(
                text(f"WITH moved AS (DELETE FROM outcome_changes RETURNING hour, channel, locale, settled, n), upserted AS ({upsert} RETURNING 1) SELECT count(*) FROM moved")
            ).scalar_one()
        )
