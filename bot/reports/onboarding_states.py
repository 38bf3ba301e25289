"""Keeping onboarding_states settled: recompute the users the triggers marked dirty (and those
computed under another checklist) with `queries.user_rows` itself, so the reports' stored rows
follow the same rules as their live ones (`queries.onboarding_users` reads both).

A refresh takes a batch of dirty marks with their versions, computes the batch's rows from all
their facts (now = the far future), replaces their states and clears each mark only if its
version is unchanged, all in one transaction: a write landing meanwhile leaves its user dirty.
Two refreshes never interleave on a user: PostgreSQL locks the batch's marks and stale rows (SKIP
LOCKED: another instance takes other users; a writer's trigger waits for the commit, then marks
its user again), and the state rows of the marked users (a user marked while another refresh
holds their stale row is computed once that one is done); SQLite takes the write lock before reading anything, so its read snapshot cannot
go stale (no SQLITE_BUSY_SNAPSHOT) and no write lands in between.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from sqlalchemy import bindparam, delete, exists, func, insert, select, union_all, update
from sqlalchemy.engine import Engine
from sqlalchemy.sql import Select
from sqlmodel import Session

from bot.onboarding import Checklist
from bot.reports.queries import C, E, M, S, Window, dialect_of, user_rows

FOREVER = datetime(9999, 1, 1, tzinfo=timezone.utc)  # as of then, every fact of a user counts
BATCH = 2000
MAX_BATCH = 5000  # the ids are bound once per part of user_rows; PostgreSQL allows 65,535 parameters


def refresh_onboarding_states(session: Session, checklist: Checklist, *, limit: int = BATCH, on_computed: Callable[[Session], None] | None = None) -> int:
    """Settle up to `limit` users in one transaction (committed): dirty ones first, then rows
    computed under another checklist; how many were taken (0: nothing to do). `on_computed` runs
    after the rows are computed, before the marks are cleared (tests land a write there)."""
    if not 0 < limit <= MAX_BATCH:
        raise ValueError(f"between 1 and {MAX_BATCH} users in one refresh, not {limit}")
    dialect = dialect_of(session)
    key = checklist.fingerprint
    if dialect == "sqlite":
        # The first statement writes: the write lock is taken before anything is read.
        session.execute(update(M).where(M.c.user_id.is_(None)).values(version=M.c.version))
    claim = select(M.c.user_id, M.c.version).order_by(M.c.user_id).limit(limit)
    marks = {user: version for user, version in session.execute(_locked(claim, dialect))}
    ids = sorted(marks)
    if marks and dialect != "sqlite":
        # A user marked after another refresh took their stale row: wait for that one to finish,
        # then compute (its row is replaced below, never inserted twice).
        session.execute(select(S.c.user_id).where(S.c.user_id.in_(ids)).order_by(S.c.user_id).with_for_update())
    if len(ids) < limit:
        # Stale rows are locked, not marked: a writer waits for a refresh only if its own user's mark is in the batch.
        stale = select(S.c.user_id).where(S.c.checklist_key != key, ~exists().where(M.c.user_id == S.c.user_id)).order_by(S.c.user_id).limit(limit - len(ids))
        ids += session.execute(_locked(stale, dialect)).scalars()
    if not ids:
        session.commit()
        return 0
    users = user_rows(checklist, Window(FOREVER, FOREVER, FOREVER, timedelta(0)), dialect, only=ids)
    steps = [users.c[f"s{i}"] for i in range(len(checklist.steps))]
    rows = list(session.execute(select(users.c.user_id, users.c.started_at, users.c.completed_at, users.c.self_serve, users.c.involved, *steps)))
    facts_until = _facts_until(session, ids)
    session.execute(delete(S).where(S.c.user_id.in_(ids)))
    if rows:
        states = [
            {
                "user_id": row[0],
                "checklist_key": key,
                "started_at": row[1],
                "completed_at": row[2],
                "self_serve": bool(row[3]),
                "involved": bool(row[4]),
                "steps_done": sum(1 << i for i, done in enumerate(row[5:]) if done),
                "facts_until": facts_until[row[0]],
            }
            for row in rows
        ]
        session.execute(insert(S), states)
    if on_computed is not None:
        on_computed(session)
    # A mark whose version moved was written after the rows were read: it stays dirty.
    clear = delete(M).where(M.c.user_id == bindparam("mark_user"), M.c.version == bindparam("mark_version"))
    if marks:
        session.execute(clear, [{"mark_user": user, "mark_version": version} for user, version in marks.items()])
    session.commit()
    return len(ids)


def _locked(query: Select, dialect: str) -> Select:
    """PostgreSQL: lock the rows read, skipping those another refresh holds (SQLite holds the write lock)."""
    return query if dialect == "sqlite" else query.with_for_update(skip_locked=True)


def _facts_until(session: Session, ids: list[str]) -> dict[str, datetime]:
    """Per user: the latest instant user_rows compares with `now` (events, conversations, hand-overs)."""
    instants = [
        select(E.c.user_id.label("user_id"), func.max(E.c.occurred_at).label("t")).where(E.c.user_id.in_(ids)).group_by(E.c.user_id),
        select(C.c.user_id.label("user_id"), func.max(C.c.created_at).label("t")).where(C.c.user_id.in_(ids)).group_by(C.c.user_id),
        select(C.c.user_id.label("user_id"), func.max(C.c.escalated_at).label("t")).where(C.c.user_id.in_(ids), C.c.escalated_at.is_not(None)).group_by(C.c.user_id),
    ]
    latest: dict[str, datetime] = {}
    for user, instant in session.execute(union_all(*instants)):
        latest[user] = max(latest.get(user, instant), instant)
    return latest


def refresh_until_settled(engine: Engine, checklist: Checklist, *, budget: timedelta = timedelta(seconds=5), limit: int = BATCH) -> int:
    """Refresh batch after batch until nothing is dirty or `budget` is spent (one batch at least);
    how many users were settled. For a periodic loop of the server, or the CLI."""
    deadline = time.monotonic() + budget.total_seconds()
    settled = 0
    while True:
        with Session(engine) as session:
            taken = refresh_onboarding_states(session, checklist, limit=limit)
        settled += taken
        if taken == 0 or time.monotonic() >= deadline:
            return settled
