"""The job queue every instance shares, on SQLite and on the real PostgreSQL: one worker at a time
per job, retries with back-off, failures recorded, and a job whose instance died (SIGKILL while
holding the lease) delivered by another instance that keeps running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import asdict
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from api.cli import app
from bot.escalation import Dispatcher, WebhookDestination, build_handover, escalate
from bot.jobs import JobQueue, prune_done, unfinished
from bot.ledger import writes
from bot.ledger.models import Escalation, Job, utcnow
from tests.support import Receiver, webhook_receiver

pytestmark = pytest.mark.integration
SECRET = "webhook-secret"


@pytest.fixture
def queues(db_engine: Engine) -> Iterator[list[JobQueue]]:
    """Queues as separate instances would have them (each closed after the test)."""
    made: list[JobQueue] = []
    yield made
    for queue in made:
        queue.close()


def test_each_job_is_worked_on_by_one_worker_of_all_the_instances(db_engine: Engine, queues: list[JobQueue]) -> None:
    ran: list[str] = []
    lock = threading.Lock()

    def record(payload: dict) -> None:
        with lock:
            ran.append(payload["n"])

    for _ in range(2):  # two instances, four workers each, racing for the same 40 jobs
        queue = JobQueue(db_engine, workers=4, poll=0.05)
        queue.register("count", record)
        queues.append(queue)
    for n in range(40):
        assert queues[0].enqueue(kind="count", key=f"count:{n}", payload={"n": n})
    assert queues[1].enqueue(kind="count", key="count:0", payload={"n": 0}) is False  # the same work, once
    for queue in queues:
        queue.start()
    queues[0].drain()
    assert sorted(ran) == list(range(40))
    assert queues[1].counts() == {"pending": 0, "failed": 0, "done": 40}


def test_a_failing_job_is_retried_with_back_off_then_recorded_failed_and_listed(db_engine: Engine, database_url: str, queues: list[JobQueue], monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[dict] = []
    failures: list[tuple[dict, str]] = []

    def send(payload: dict) -> None:
        attempts.append(payload)
        raise RuntimeError("receiver down")

    queue = JobQueue(db_engine, workers=1, poll=0.05)
    queue.register("flaky", send, on_failed=lambda _, payload, why: failures.append((payload, why)), backoff=0.01)
    queues.append(queue)
    queue.enqueue(kind="flaky", key="flaky:1", payload={"id": 1}, max_attempts=3)
    queue.start()
    queue.drain()
    assert len(attempts) == 3 and failures == [({"id": 1}, "receiver down")]
    with Session(db_engine) as session:
        [job] = session.exec(select(Job)).all()
        assert (job.status, job.attempts, job.last_error) == ("failed", 3, "receiver down")
    monkeypatch.setenv("JISO_DATABASE_URL", database_url)
    listed = CliRunner().invoke(app, ["jobs"])
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.splitlines()[0] == "pending=0 failed=1 done=0"
    assert listed.stdout.splitlines()[1].startswith("failed\tflaky\tflaky:1\tattempts 3/3\tfailed ") and listed.stdout.splitlines()[1].endswith("\treceiver down")
    retried = CliRunner().invoke(app, ["jobs", "--retry-failed"])  # the operator fixed the receiver
    assert retried.stdout.splitlines()[:2] == ["1 failed job(s) queued again", "pending=1 failed=0 done=0"]
    queue.drain()
    assert len(attempts) == 6


def test_a_worker_that_lost_its_lease_records_nothing(db_engine: Engine, queues: list[JobQueue]) -> None:
    """A worker paused past its lease: another took the job over; the late finish is not written."""
    done: list[str] = []
    slow, fast = JobQueue(db_engine, lease=0.01), JobQueue(db_engine)
    for name, queue in (("slow", slow), ("fast", fast)):
        queue.register("work", lambda payload, name=name: None, on_done=lambda _, payload, name=name: done.append(name))
        queues.append(queue)
    slow.enqueue(kind="work", key="work:1", payload={})
    claimed = slow._claim()  # slow holds the job, then stalls past its lease
    assert claimed is not None
    threading.Event().wait(0.05)
    assert fast.run_once() is True
    slow._finish(claimed, {"status": "done"}, lambda session: done.append("slow"))
    assert done == ["fast"]


@pytest.mark.slow
def test_a_hand_over_held_by_an_instance_killed_mid_delivery_is_delivered_by_another_without_a_restart(db_engine: Engine, database_url: str) -> None:
    with webhook_receiver([]) as receiver, Session(db_engine) as session:
        conversation = writes.open_conversation(session=session, channel="web")
        escalation = writes.record_escalation(session=session, conversation=conversation, reason="help", destinations=["webhook"])
        handover = build_handover(session=session, conversation=conversation, escalation=escalation, link=None)
        doomed = _instance_delivering(database_url, receiver, asdict(handover))
        try:
            while not receiver.received:  # the doomed instance holds the lease and the first attempt
                receiver.release.wait(0.01)
            survivor = Dispatcher(db_engine, [WebhookDestination(receiver.url, SECRET)], queue=JobQueue(db_engine, poll=0.1))
            os.kill(doomed.pid, signal.SIGKILL)
            doomed.wait()
            receiver.release.set()
            survivor.drain()
            survivor.close()
        finally:
            doomed.kill()
        session.expire_all()
        assert session.get(Escalation, escalation.id).delivery == {"webhook": "delivered"}
        [job] = session.exec(select(Job)).all()
        assert (job.status, job.attempts) == ("done", 2)
        assert [json.loads(body)["escalation_id"] for _, body in receiver.received] == [escalation.id, escalation.id]


def _instance_delivering(database_url: str, receiver: Receiver, handover: dict) -> subprocess.Popen:
    """Another process, as an instance is: it queues the hand-over and its one worker claims it (lease 1 s)."""
    script = f"""
import time
from bot.escalation import Dispatcher, Handover, WebhookDestination
from bot.jobs import JobQueue, prune_done, unfinished
from bot.ledger.db import make_engine
database = make_engine({database_url!r})
dispatcher = Dispatcher(database, [WebhookDestination({receiver.url!r}, {SECRET!r})], queue=JobQueue(database, workers=1, lease=1.0, poll=0.05))
dispatcher.dispatch(Handover(**{handover!r}))
time.sleep(600)
"""
    return subprocess.Popen([sys.executable, "-c", script], cwd=os.getcwd())


def test_escalate_queues_each_destination_once(db_engine: Engine) -> None:
    with webhook_receiver([]) as receiver, Session(db_engine) as session:
        receiver.release.set()
        dispatcher = Dispatcher(db_engine, [WebhookDestination(receiver.url, SECRET)], queue=JobQueue(db_engine, poll=0.05))
        conversation = writes.open_conversation(session=session, channel="web")
        escalation = escalate(session=session, conversation=conversation, reason="help", dispatcher=dispatcher, link=None, delivery_key="k1")
        escalate(session=session, conversation=conversation, reason="help", dispatcher=dispatcher, link=None, delivery_key="k1")  # a retried request
        dispatcher.dispatch(build_handover(session=session, conversation=conversation, escalation=escalation, link=None))  # resumed twice
        dispatcher.drain()
        dispatcher.close()
        assert len(receiver.received) == 1


def test_a_process_killed_right_after_recording_a_hand_over_leaves_its_delivery_queued(db_engine: Engine, database_url: str) -> None:
    """SIGKILL just after the commit that wrote the hand-over: its delivery job was written in
    that same commit, so a running instance delivers it (no retry or restart needed)."""
    script = f"""
import os, signal
from sqlalchemy import event
from sqlmodel import Session
from bot.escalation import Dispatcher, WebhookDestination, escalate
from bot.jobs import JobQueue, prune_done, unfinished
from bot.ledger import writes
from bot.ledger.db import make_engine
from bot.ledger.models import Escalation
database = make_engine({database_url!r})
dispatcher = Dispatcher(database, [WebhookDestination("http://127.0.0.1:9/unused", {SECRET!r})], queue=JobQueue(database, workers=0))
with Session(database) as session:
    conversation = writes.open_conversation(session=session, channel="web")
    wrote: list[bool] = []
    event.listen(session, "after_flush", lambda s, _: wrote.append(any(isinstance(row, Escalation) for row in s.new)))
    event.listen(session, "after_commit", lambda s: any(wrote) and os.kill(os.getpid(), signal.SIGKILL))
    escalate(session=session, conversation=conversation, reason="help", dispatcher=dispatcher, link=None, delivery_key="k1")
"""
    died = subprocess.run([sys.executable, "-c", script], cwd=os.getcwd(), capture_output=True, text=True)
    assert died.returncode == -signal.SIGKILL, died.stderr
    with Session(db_engine) as session:
        [escalation] = session.exec(select(Escalation)).all()
        assert escalation.delivery == {"webhook": "pending"}
        assert session.exec(select(Job.key)).all() == [f"handover:{escalation.id}:webhook"]


def test_done_jobs_older_than_the_retention_are_pruned_and_the_others_kept(db_engine: Engine) -> None:
    now = utcnow()
    with Session(db_engine) as session:
        for key, status, finished in (
            ("old", "done", now - timedelta(days=8)),
            ("recent", "done", now - timedelta(days=1)),
            ("failed", "failed", now - timedelta(days=30)),
            ("pending", "pending", None),
        ):
            session.add(Job(kind="work", key=key, payload={}, status=status, finished_at=finished))
        session.commit()
        assert prune_done(session=session, older_than=now - timedelta(days=7)) == 1
        assert sorted(session.exec(select(Job.key)).all()) == ["failed", "pending", "recent"]


def test_jiso_jobs_lists_the_failed_jobs_before_any_pending_one(db_engine: Engine) -> None:
    # The operator's list is capped: failed jobs (what needs a person) must not hide behind pending ones.
    now = utcnow()
    with Session(db_engine) as session:
        for n in range(3):
            session.add(Job(kind="work", key=f"pending-{n}", payload={}, status="pending", created_at=now - timedelta(minutes=10 - n)))
        session.add(Job(kind="work", key="failed", payload={}, status="failed", created_at=now))
        session.commit()
        listed = [job.key for job in unfinished(session=session, limit=3)]
    assert listed == ["failed", "pending-0", "pending-1"]
