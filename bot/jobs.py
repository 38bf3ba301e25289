"""Durable background work shared by every instance: a job table in the ledger, claimed with a lease.

A worker claims a due job in one statement that moves its lease forward (`UPDATE … WHERE id =
(SELECT … FOR UPDATE SKIP LOCKED) RETURNING id` on PostgreSQL; SQLite takes its write lock for
the statement), so no two workers hold a job at once. It runs the kind's handler, then marks the
job done, or schedules the next attempt with exponential back-off, or after the last attempt marks
it failed. A worker that dies holding a lease leaves the job to whichever worker, in any instance,
claims it once the lease has run out: nobody needs to restart anything. Each finish is written only
by the lease's owner, in the same transaction as the kind's outcome (e.g. the escalation's
`delivered`), so a worker that lost its lease records nothing.

Jobs are at least once: a worker that dies after its work was done but before it recorded it
makes the next one do it again, so handlers send something receivers can deduplicate.

Adding a kind of work is a registration: `queue.register("kind", run, on_done=…, on_failed=…)`,
then `queue.enqueue(kind="kind", key=…, payload=…)` from anywhere, or `queue.add(session, …)` to
write the job in the same transaction as the record it belongs to.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, func, or_, update
from sqlalchemy.engine import Engine as DatabaseEngine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot.ledger.models import Job, UTCDateTime, utcnow

log = logging.getLogger(__name__)
Payload = dict[str, Any]


@dataclass(frozen=True)
class Kind:
    run: Callable[[Payload], None]  # do the work or raise (it is retried)
    on_done: Callable[[Session, Payload], None] | None  # record the outcome, in the job's transaction
    on_failed: Callable[[Session, Payload, str], None] | None  # after the last attempt, with why
    backoff: float  # seconds before the second attempt; doubled each time, up to max_delay
    max_delay: float


class JobQueue:
    """The job table, and `workers` threads of this process working on it."""

    def __init__(self, database: DatabaseEngine, *, workers: int = 4, lease: float = 120.0, poll: float = 1.0) -> None:
        self._database = database
        self.workers = workers
        self.lease = timedelta(seconds=lease)  # longer than any one attempt takes (the webhook's timeout is 10 s)
        self.poll = poll
        self.owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._kinds: dict[str, Kind] = {}
        self._threads: list[threading.Thread] = []
        self._wake = threading.Event()
        self._stopping = threading.Event()

    def register(
        self,
        kind: str,
        run: Callable[[Payload], None],
        *,
        on_done: Callable[[Session, Payload], None] | None = None,
        on_failed: Callable[[Session, Payload, str], None] | None = None,
        backoff: float = 2.0,
        max_delay: float = 300.0,
    ) -> None:
        self._kinds[kind] = Kind(run, on_done, on_failed, backoff, max_delay)

    def enqueue(self, *, kind: str, key: str, payload: Payload, max_attempts: int = 6) -> bool:
        """Queue the work unless a job under `key` exists already (then False: nothing is added)."""
        with Session(self._database) as session:
            session.add(Job(kind=kind, key=key, payload=payload, max_attempts=max_attempts))
            try:
                session.commit()
            except IntegrityError:
                return False
        self._wake.set()
        return True

    def add(self, session: Session, *, kind: str, key: str, payload: Payload, max_attempts: int = 6) -> None:
        """Queue the work in the caller's transaction, so it is written with the record it is the
        work of, or not at all (a process killed between the two would leave the record without
        its job). `key` must be new; call `wake` after the commit."""
        session.add(Job(kind=kind, key=key, payload=payload, max_attempts=max_attempts))

    def wake(self) -> None:
        """Tell this process's workers that work was queued (the other instances poll)."""
        self._wake.set()

    def start(self) -> None:
        for number in range(self.workers - len(self._threads)):
            thread = threading.Thread(target=self._work, name=f"jiso-jobs-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def close(self) -> None:
        """Stop the workers after the attempts under way (a job left is done by the next worker)."""
        self._stopping.set()
        self._wake.set()
        for thread in self._threads:
            thread.join()
        self._threads.clear()

    def run_once(self) -> bool:
        """Claim one due job and work on it; False when none was due."""
        job = self._claim()
        if job is None:
            return False
        kind = self._kinds[job.kind]
        try:
            kind.run(job.payload)
        except Exception as error:  # noqa: BLE001 (any failure is retried, then recorded)
            log.warning("job %s (%s) failed, attempt %d/%d: %s", job.key, job.kind, job.attempts, job.max_attempts, error)
            self._failed(job, kind, str(error) or type(error).__name__)
        else:
            done = kind.on_done
            self._finish(job, {"status": "done", "finished_at": utcnow(), "last_error": None}, (lambda session: done(session, job.payload)) if done else None)
        return True

    def drain(self, timeout: float = 60.0) -> None:
        """Wait until no job is due before `timeout` from now (tests; a CLI run before it exits)."""
        deadline = utcnow() + timedelta(seconds=timeout)
        while self._next_due(until=deadline) is not None and utcnow() < deadline:
            time.sleep(0.02)

    def counts(self) -> dict[str, int]:
        with Session(self._database) as session:
            return counts(session=session)

    def _due(self, now: datetime):  # noqa: ANN202 (a SQL condition)
        return and_(Job.status == "pending", Job.kind.in_(list(self._kinds)), Job.run_at <= now, or_(Job.lease_until.is_(None), Job.lease_until < now))

    def _claim(self) -> Job | None:
        now = utcnow()
        candidate = select(Job.id).where(self._due(now)).order_by(Job.run_at).limit(1).with_for_update(skip_locked=True).scalar_subquery()
        with Session(self._database) as session:
            claimed = session.execute(
                update(Job)
                .where(Job.id == candidate, self._due(now))
                .values(lease_until=now + self.lease, lease_owner=self.owner, attempts=Job.attempts + 1)
                .returning(Job.id)
                .execution_options(synchronize_session=False)
            ).scalar()
            session.commit()
            if claimed is None:
                return None
            job = session.get(Job, claimed)
            session.expunge(job)
            return job

    def _failed(self, job: Job, kind: Kind, error: str) -> None:
        error = error[:500]
        if job.attempts >= job.max_attempts:
            failed = kind.on_failed
            self._finish(job, {"status": "failed", "finished_at": utcnow(), "last_error": error}, (lambda session: failed(session, job.payload, error)) if failed else None)
            return
        delay = min(kind.backoff * 2 ** (job.attempts - 1), kind.max_delay)
        self._finish(job, {"run_at": utcnow() + timedelta(seconds=delay), "lease_until": None, "lease_owner": None, "last_error": error}, None)

    def _finish(self, job: Job, values: dict[str, Any], outcome: Callable[[Session], None] | None) -> None:
        """Write the job's new state and the kind's outcome together, if this worker still holds the lease."""
        with Session(self._database) as session:
            held = session.execute(update(Job).where(Job.id == job.id, Job.lease_owner == self.owner, Job.status == "pending").values(**values).execution_options(synchronize_session=False))
            if held.rowcount != 1:
                session.rollback()
                log.warning("job %s: the lease ran out during the attempt and another worker took it; not recorded here", job.key)
                return
            if outcome is not None:
                outcome(session)
            session.commit()

    def _next_due(self, *, until: datetime) -> datetime | None:
        """When the next job (of the kinds registered here) becomes claimable, if before `until`."""
        with Session(self._database) as session:
            due = session.exec(
                select(func.min(func.coalesce(Job.lease_until, Job.run_at), type_=UTCDateTime())).where(Job.status == "pending", Job.kind.in_(list(self._kinds)), Job.run_at <= until)
            ).first()
        return due

    def _work(self) -> None:
        while not self._stopping.is_set():
            try:
                if self.run_once():
                    continue
                next_due = self._next_due(until=utcnow() + timedelta(seconds=self.poll))
            except Exception:  # the database may be away for a moment; the workers outlive it
                log.exception("job worker: the queue could not be read")
                next_due = None
            wait = self.poll if next_due is None else max(0.0, min(self.poll, (next_due - utcnow()).total_seconds()))
            if self._wake.wait(wait):
                self._wake.clear()


def unfinished(*, session: Session, limit: int = 50) -> list[Job]:
    """The failed jobs, then the pending ones, oldest first (what an operator looks at)."""
    failed_first = case((Job.status == "failed", 0), else_=1)
    order = select(Job).where(Job.status != "done").order_by(failed_first, Job.created_at, Job.id).limit(limit)
    return list(session.exec(order))


def retry_failed(*, session: Session) -> int:
    """Give every failed job a new set of attempts, due now (after the receiver is fixed)."""
    retried = session.execute(
        update(Job)
        .where(Job.status == "failed")
        .values(status="pending", attempts=0, run_at=utcnow(), lease_until=None, lease_owner=None, finished_at=None)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return retried.rowcount


def prune_done(*, session: Session, older_than: datetime) -> int:
    """Forget the jobs done before `older_than` (a Slack retry or a resumed hand-over comes within
    minutes): the table holds one row per Slack event and per delivery."""
    pruned = session.execute(delete(Job).where(Job.status == "done", Job.finished_at < older_than).execution_options(synchronize_session=False))
    session.commit()
    return pruned.rowcount


def counts(*, session: Session) -> dict[str, int]:
    """Jobs per status (`pending` includes those being worked on)."""
    rows = session.exec(select(Job.status, func.count()).group_by(Job.status)).all()
    return {"pending": 0, "failed": 0, "done": 0} | {status: count for status, count in rows}
