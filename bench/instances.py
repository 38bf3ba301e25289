"""Two jiso instances on one PostgreSQL and Redis, mixed traffic through both, one SIGKILLed mid-run.

    python bench/instances.py                 # writes bench/results/instances.json
    python bench/instances.py --sessions 120  # more traffic
    python bench/instances.py --sessions 16 --fake-embedder --out /tmp/instances.json  # a smoke run

It runs the commands of docs/deploy.md as an operator would: `jiso db upgrade`, `jiso index`,
`jiso serve --workers 2` (instance A) and `jiso serve` (instance B) on a fresh PostgreSQL schema
with the rate limits in Redis, a second `jiso index` that both instances must pick up, `curl` on
`/health`, one visitor's requests spread over both instances against a shared limit, then
traffic sent round-robin as a load balancer does (web conversations, questions, votes,
hand-overs, Slack events — each sent once to one instance, every second one again to the other
as Slack's retry —, report reads), with `X-Forwarded-For` / `X-Forwarded-Proto` as the reverse
proxy sends them. Once half the sessions are done, B is killed with SIGKILL while it holds a
hand-over job's lease; requests that fail on it are sent again to A with the same
`Idempotency-Key`, as a client behind a load balancer does. Then `jiso jobs`, `jiso jobs
--retry-failed` and the backup (`pg_dump`, `pg_restore --list`, a restore into a new database)
run, and it checks:

- every acknowledged write is in the database once (conversations, turns, votes, hand-overs,
  Slack questions);
- every hand-over reached the webhook receiver (which refuses each one's first attempt, so
  deliveries go through the retries): at least once, and exactly once unless B died holding its
  job's lease; and how long such a job waited for A (about the lease, JISO_JOB_LEASE_SECONDS);
- one Slack reply per event, whichever instance took it and whether it was retried (at least
  one for an event whose job B held when it died);
- the visitor limit held across both instances (Redis);
- no 5xx from the surviving instance.

Needs PostgreSQL at JISO_BENCH_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test),
Redis at JISO_BENCH_REDIS_URL (default redis://127.0.0.1:6379/13), and `curl`, `pg_dump`,
`pg_restore`, `createdb`, `dropdb`. Exit 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import func, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.ledger.db import make_engine  # noqa: E402
from bot.ledger.models import Conversation, Escalation, Feedback, Job, Turn, utcnow  # noqa: E402
from tests.integration.slack.fake_slack import BOT_USER_ID, TEAM_ID, FakeSlack  # noqa: E402
from tests.support import FAKE_THRESHOLDS, write_calibrations  # noqa: E402

PYTHON = sys.executable
POSTGRES_URL = os.environ.get("JISO_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("JISO_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
SIGNING_SECRET = "bench-signing-secret"
WEBHOOK_SECRET = "bench-webhook-secret"
ADMIN_KEY = "bench-admin-key"
VISITOR_LIMIT = 10
PROXY_HEADERS = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}  # what the reverse proxy adds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Receiver:
    """The hand-over webhook: refuses each escalation's first attempt (500), then counts deliveries."""

    def __init__(self) -> None:
        self.attempts: Counter[str] = Counter()
        self.delivered: Counter[str] = Counter()
        self.attempted_at: dict[str, list[float]] = {}  # monotonic time of each attempt
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                arrived = time.monotonic()  # after a SIGKILL, only a live instance sends anything
                escalation_id = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["escalation_id"]
                time.sleep(0.2)  # a receiver takes a moment: some deliveries are in flight at the kill
                with lock:
                    receiver.attempts[escalation_id] += 1
                    receiver.attempted_at.setdefault(escalation_id, []).append(arrived)
                    status = 500 if receiver.attempts[escalation_id] == 1 else 200
                    if status == 200:
                        receiver.delivered[escalation_id] += 1
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/jiso"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def jiso(env: dict[str, str], *args: str) -> str:
    """One CLI command, as `jiso ARGS` (this checkout's code); its output."""
    done = subprocess.run([PYTHON, "-m", "api.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"jiso {' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


class Balancer:
    """Round-robin over the live instances; a request that fails on one goes to the next, same key."""

    def __init__(self, urls: dict[str, str]) -> None:
        self.urls = urls
        self.alive = list(urls)
        self.statuses: dict[str, Counter[int]] = {name: Counter() for name in urls}
        self._turn = 0
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=60, headers=PROXY_HEADERS)

    def kill(self, name: str) -> None:
        with self._lock:
            self.alive.remove(name)

    def send(self, method: str, path: str, *, prefer: str | None = None, **kwargs) -> httpx.Response:
        return self.deliver(method, path, prefer=prefer, **kwargs)[1]

    def deliver(self, method: str, path: str, *, prefer: str | None = None, **kwargs) -> tuple[str, httpx.Response]:
        """The instance that answered, and its response."""
        for _ in range(120):
            with self._lock:
                self._turn += 1
                name = prefer if prefer in self.alive else self.alive[self._turn % len(self.alive)]
            try:
                response = self._client.request(method, self.urls[name] + path, **kwargs)
            except httpx.TransportError:
                time.sleep(0.2)
                continue  # that instance is gone: the next one gets the same request
            self.statuses[name][response.status_code] += 1
            if response.status_code == 409 and "Retry-After" in response.headers:  # the dead instance's reservation
                time.sleep(float(response.headers["Retry-After"]))
                continue
            return name, response
        raise RuntimeError(f"{method} {path}: no instance answered")


def slack_event(ts: str, question: str, event_id: str) -> tuple[bytes, dict[str, str]]:
    event = {"type": "app_mention", "user": "U1", "text": f"<@{BOT_USER_ID}> {question}", "ts": ts, "channel": "C1", "event_ts": ts, "team": TEAM_ID}
    body = json.dumps(
        {
            "token": "x",
            "team_id": TEAM_ID,
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
            "event": event,
        }
    ).encode()
    timestamp = str(int(time.time()))
    return body, {"Content-Type": "application/json", "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=timestamp, body=body)}


def questions() -> list[str]:
    lines = (ROOT / "bench" / "datasets" / "en-onboarding" / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines] + ["Can the quantum flux capacitor bake bread on Tuesdays?"]


def one_session(balancer: Balancer, n: int, asked: str, acked: dict[str, list], lock: threading.Lock) -> None:
    """A visitor: a conversation, a question, a vote, every second one a hand-over; every third a
    Slack question delivered to both instances; every fifth a report read."""
    key = f"bench-{n}-{uuid.uuid4().hex[:8]}"
    conversation = balancer.send("POST", "/api/v1/conversations", json={"locale": "en"}, headers={"Idempotency-Key": f"{key}-c"})
    assert conversation.status_code == 201, conversation.text
    conversation_id = conversation.json()["id"]
    message = balancer.send("POST", f"/api/v1/conversations/{conversation_id}/messages", json={"text": asked}, headers={"Idempotency-Key": f"{key}-m"})
    assert message.status_code == 200, message.text
    turn_id = message.json()["turn_id"]
    vote = balancer.send("POST", f"/api/v1/conversations/{conversation_id}/feedback", json={"turn_id": turn_id, "helpful": n % 3 != 0}, headers={"Idempotency-Key": f"{key}-v"})
    assert vote.status_code == 200, vote.text
    escalation_id = None
    if n % 2 == 0:
        escalation = balancer.send("POST", f"/api/v1/conversations/{conversation_id}/escalate", json={"reason": "bench"}, headers={"Idempotency-Key": f"{key}-e"})
        assert escalation.status_code == 201, escalation.text
        escalation_id = escalation.json()["escalation_id"]
    slack_ts = None
    if n % 3 == 0:
        slack_ts = f"1800000000.{n:06d}"
        body, headers = slack_event(slack_ts, asked, f"EvBench{n}")
        first, response = balancer.deliver("POST", "/slack/events", content=body, headers=headers)  # Slack sends an event once…
        assert response.status_code == 200, response.text
        if n % 2 == 0:  # …and again when the ack seemed late: the retry lands on the other instance
            body, headers = slack_event(slack_ts, asked, f"EvBench{n}")
            retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
            response = balancer.send("POST", "/slack/events", prefer="b" if first == "a" else "a", content=body, headers=headers | retry)
            assert response.status_code == 200, response.text
    if n % 5 == 0:
        report = balancer.send("GET", "/api/v1/reports/summary", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
        assert report.status_code == 200, report.text
    with lock:
        acked["conversations"].append(conversation_id)
        acked["turns"].append(turn_id)
        acked["votes"].append(turn_id)
        if escalation_id:
            acked["escalations"].append(escalation_id)
        if slack_ts:
            acked["slack"].append((f"EvBench{n}", slack_ts))


def step(what: str) -> None:
    """Progress on stderr, so that a run cut short shows how far it got."""
    print(f"{time.strftime('%H:%M:%S')} {what}", file=sys.stderr, flush=True)


def wait_for(condition, timeout: float, what: str):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
        except httpx.TransportError:
            value = None
        if value:
            return value
        time.sleep(0.5)
    raise SystemExit(f"timed out waiting for {what}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "instances.json")
    parser.add_argument("--fake-embedder", action="store_true", help="the tests' hashing embedder instead of the models: a smoke run in about a minute (the answers mean nothing)")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="jiso-instances-"))
    schema = f"jiso_bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    database_url = f"{POSTGRES_URL}{'&' if '?' in POSTGRES_URL else '?'}options=-csearch_path%3D{schema}"
    receiver, fake_slack = Receiver(), FakeSlack().start()
    shutil.copytree(ROOT / "knowledge", scratch / "knowledge")
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "JISO_DATABASE_URL": database_url,
        "JISO_RATE_LIMIT_STORAGE": REDIS_URL,
        "JISO_RATE_LIMIT_PER_IP": "100000/minute",
        "JISO_RATE_LIMIT_PER_VISITOR": f"{VISITOR_LIMIT}/minute",  # the traffic's visitors ask once each
        "JISO_KNOWLEDGE_DIR": str(scratch / "knowledge"),
        "JISO_INDEX_DIR": str(scratch / "index"),
        "JISO_INDEX_RELOAD_SECONDS": "1",
        "JISO_LINK_SECRET": "bench-link-secret",
        "JISO_ADMIN_API_KEY": ADMIN_KEY,
        "JISO_FORWARDED_ALLOW_IPS": "127.0.0.1",
        "JISO_PUBLIC_URL": "https://jiso.example.com",
        "JISO_ESCALATION_WEBHOOK_URL": receiver.url,
        "JISO_ESCALATION_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "JISO_ESCALATION_RETRY_BACKOFF": "1",
        "JISO_JOB_LEASE_SECONDS": "10",
        "JISO_JOB_POLL_SECONDS": "0.5",
        "JISO_IDEMPOTENCY_LEASE_SECONDS": "5",
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "JISO_SLACK_API_URL": fake_slack.api_url,
    }
    if args.fake_embedder:
        calibrations = write_calibrations(scratch / "calibrations", "fake-hashing", FAKE_THRESHOLDS)
        env |= {"JISO_MODEL_EN": "fake-hashing", "JISO_MODEL_JA": "fake-hashing", "JISO_COMPANION_MODEL_EN": "", "JISO_LEXICAL_JA": "bigram", "JISO_CALIBRATION_DIR": str(calibrations)}
    servers: dict[str, subprocess.Popen] = {}
    result: dict = {"sessions": args.sessions, "concurrency": args.concurrency}
    try:
        started = time.monotonic()
        step("jiso db upgrade")
        jiso(env, "db", "upgrade")
        step("jiso index")
        jiso(env, "index", "--quiet")
        step("jiso serve --workers 2 (A), jiso serve (B)")
        ports = {"a": free_port(), "b": free_port()}
        for name, extra in (("a", ["--workers", "2"]), ("b", [])):
            with (scratch / f"{name}.log").open("w") as log:
                command = [PYTHON, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(ports[name]), *extra]
                servers[name] = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        for url in urls.values():
            wait_for(lambda url=url: httpx.get(url + "/health").status_code == 200, 600, f"{url}/health")
        result["start_s"] = round(time.monotonic() - started, 1)

        # One `jiso index` publishes a build; every instance (each of A's workers too) serves it.
        page = scratch / "knowledge" / "en" / "faq" / "bench.md"
        page.write_text("---\ntype: faq\nlocale: en\ntitle: Bench\n---\n\n## Where is the bench entry?\n\nHere, added between two index runs.\n", encoding="utf-8")
        step("second jiso index")
        jiso(env, "index", "--quiet")
        published = httpx.get(urls["a"] + "/health").json()["published"]
        for url in urls.values():
            wait_for(lambda url=url: all(httpx.get(url + "/health").json()["index"] == published for _ in range(4)), 120, f"{url} to serve {published}")
        result["index_published_to_every_instance"] = published
        direct = httpx.Client(timeout=120, headers=PROXY_HEADERS)  # a worker's first answers are slow on a busy machine
        new_entry = [  # the entry only the new build has, from each instance (several requests: each of A's workers)
            (direct.post(url + "/api/v1/ask", json={"question": "Where is the bench entry?", "locale": "en"}).json()["sources"] or [{}])[0].get("path", "") for url in urls.values() for _ in range(4)
        ]
        result["new_entry_answered_by_every_instance"] = all(path.endswith("bench.md") for path in new_entry)
        health = json.loads(subprocess.run(["curl", "-fsS", urls["b"] + "/health"], check=True, capture_output=True, text=True).stdout)  # the doc's health check
        result["health_fields"] = sorted(health)

        # One visitor's window is the same on every instance: the limit holds across both.
        visitor = f"bench-visitor-{uuid.uuid4().hex[:8]}"
        limited = [direct.post(urls["ab"[n % 2]] + "/api/v1/conversations", json={"locale": "en", "visitor_id": visitor}) for n in range(VISITOR_LIMIT + 2)]
        result["shared_rate_limit"] = {"limit": f"{VISITOR_LIMIT}/minute", "sent": len(limited), **{str(code): count for code, count in Counter(r.status_code for r in limited).items()}}
        rate_limited_conversations = [r.json()["id"] for r in limited if r.status_code == 201]

        balancer = Balancer(urls)
        acked: dict[str, list] = {"conversations": [], "turns": [], "votes": [], "escalations": [], "slack": []}
        lock = threading.Lock()
        texts = questions()
        held_by_dead: set[str] = set()
        database = make_engine(database_url)

        def b_holds_a_lease() -> bool:
            with Session(database) as session:
                return session.exec(select(Job.id).where(Job.status == "pending", Job.lease_owner.like(f"%:{servers['b'].pid}:%"))).first() is not None

        killed_at: list[float] = []  # monotonic, for the receiver's times
        killed_wall: list[datetime] = []  # UTC, for the jobs' finished_at

        def kill_b() -> None:
            deadline = time.monotonic() + 60  # SIGKILL while B is delivering a hand-over, if it gets one soon
            while not b_holds_a_lease() and time.monotonic() < deadline:
                time.sleep(0.02)
            servers["b"].send_signal(signal.SIGKILL)
            killed_at.append(time.monotonic())
            killed_wall.append(utcnow())
            servers["b"].wait()
            balancer.kill("b")
            with Session(database) as session:  # the jobs B held a lease on when it died
                held_by_dead.update(session.exec(select(Job.key).where(Job.status == "pending", Job.lease_owner.like(f"%:{servers['b'].pid}:%"))).all())
            step(f"B killed, holding the lease of {len(held_by_dead)} job(s): {sorted(held_by_dead)}")

        step("traffic")
        traffic_started = time.monotonic()
        with ThreadPoolExecutor(args.concurrency) as pool:
            futures = [pool.submit(one_session, balancer, n, texts[n % len(texts)], acked, lock) for n in range(args.sessions)]
            wait_for(lambda: sum(future.done() for future in futures) >= args.sessions // 2, 900, "half the traffic")
            kill_b()
            for future in futures:
                future.result()
        result["traffic_s"] = round(time.monotonic() - traffic_started, 1)

        step("waiting for the hand-overs")
        wait_for(lambda: httpx.get(urls["a"] + "/health").json()["jobs"]["pending"] == 0, 300, "the hand-overs to be delivered")
        step(f"delivered per escalation: {dict(Counter(receiver.delivered.values()))} (deliveries: escalations)")
        step("jiso jobs, pg_dump, pg_restore")
        result["jiso_jobs"] = jiso(env, "jobs").splitlines()[0]
        dump = scratch / "jiso.dump"
        parsed = make_url(POSTGRES_URL).set(drivername="postgresql")
        subprocess.run(["pg_dump", "--format=custom", f"--schema={schema}", f"--file={dump}", parsed.render_as_string(hide_password=False)], check=True)
        listing = subprocess.run(["pg_restore", "--list", str(dump)], check=True, capture_output=True, text=True).stdout
        result["backup_has_jobs_table"] = any(" TABLE " in line and f" {schema} jobs " in line for line in listing.splitlines())
        restored = f"{schema}_restored"  # the backup restores into a new database, every job in it
        subprocess.run(["createdb", f"--maintenance-db={parsed.render_as_string(hide_password=False)}", restored], check=True)
        try:
            subprocess.run(["pg_restore", f"--dbname={parsed.set(database=restored).render_as_string(hide_password=False)}", str(dump)], check=True)
            copy = make_engine(f"{make_url(POSTGRES_URL).set(database=restored).render_as_string(hide_password=False)}?options=-csearch_path%3D{schema}")
            with Session(copy) as session:
                result["backup_restores_every_job"] = session.exec(select(func.count()).select_from(Job)).one()
            copy.dispose()
        finally:
            subprocess.run(["dropdb", f"--maintenance-db={parsed.render_as_string(hide_password=False)}", restored], check=True)
        result["jiso_jobs_retry_failed"] = jiso(env, "jobs", "--retry-failed").splitlines()[0]

        with Session(database) as session:
            web = session.exec(select(Conversation.id).where(Conversation.channel == "web")).all()
            turn_counts = Counter(session.exec(select(Turn.conversation_id).where(Turn.conversation_id.in_(acked["conversations"]))).all())
            votes = Counter(session.exec(select(Feedback.turn_id).where(Feedback.turn_id.in_(acked["votes"]))).all())
            escalations = session.exec(select(Escalation)).all()
            slack_turns = Counter(session.exec(select(Turn.delivery_key).where(Turn.delivery_key.like("slack:event:EvBench%"))).all())
            held_escalations = {key.split(":")[1] for key in held_by_dead if key.startswith("handover:")}
            held_events = {key.removeprefix("slack:event:") for key in held_by_dead if key.startswith("slack:event:")}
            # how long a hand-over the dead instance held waited for another instance's attempt, and
            # when each job it held was done (by another instance, once its lease ran out)
            first_attempt_after_kill = {e: min((t for t in receiver.attempted_at.get(e, []) if t > killed_at[0]), default=None) for e in held_escalations}
            retried_after = {e: round(t - killed_at[0], 1) for e, t in first_attempt_after_kill.items() if t is not None}
            done_after = {job.key: round((job.finished_at - killed_wall[0]).total_seconds(), 1) for job in session.exec(select(Job).where(Job.key.in_(held_by_dead))) if job.finished_at}
            result["jobs"] = dict(session.exec(select(Job.status, func.count()).group_by(Job.status)).all())
        database.dispose()
        replies = Counter(call.body.get("thread_ts") for call in fake_slack.calls_to("chat.postMessage"))
        checks = {
            "conversations_once": sorted(web) == sorted(acked["conversations"] + rate_limited_conversations),
            "rate_limit_shared": result["shared_rate_limit"].get("201") == VISITOR_LIMIT and result["shared_rate_limit"].get("429") == 2,
            "new_build_served_everywhere": result["new_entry_answered_by_every_instance"],
            "health_as_documented": result["health_fields"] == ["entries", "index", "jobs", "published", "reason", "status"],
            "turns_once": all(turn_counts[conversation] == 1 for conversation in acked["conversations"]),
            "votes_once": all(votes[turn] == 1 for turn in acked["votes"]),
            "escalations_once": sorted(escalation.id for escalation in escalations) == sorted(acked["escalations"]),
            "escalations_recorded_delivered": all(escalation.delivery == {"webhook": "delivered"} for escalation in escalations),
            "handovers_delivered_at_least_once": all(receiver.delivered[escalation] >= 1 for escalation in acked["escalations"]),
            "handovers_delivered_exactly_once_unless_held_by_the_killed_instance": all(
                receiver.delivered[escalation] == 1 for escalation in acked["escalations"] if escalation not in held_escalations
            ),
            "slack_questions_once": all(slack_turns[f"slack:event:{event_id}"] == 1 for event_id, _ in acked["slack"]),
            "slack_reply_per_event_exactly_once_unless_held_by_the_killed_instance": all(replies[ts] == 1 or (event_id in held_events and replies[ts] >= 1) for event_id, ts in acked["slack"]),
            "no_5xx_on_survivor": not any(status >= 500 for status in balancer.statuses["a"]),
            "backup_has_jobs_table": result["backup_has_jobs_table"],
            "backup_restores_every_job": result["backup_restores_every_job"] == sum(result["jobs"].values()),
        }
        result |= {
            "acknowledged": {name: len(values) for name, values in acked.items()},
            "held_by_killed_instance": len(held_by_dead),
            "held_jobs": sorted(held_by_dead),
            "held_handover_retried_by_survivor_after_s": retried_after,
            "held_job_done_after_s": done_after,
            "lease_s": float(env["JISO_JOB_LEASE_SECONDS"]),
            "deliveries_per_escalation": {str(deliveries): escalations for deliveries, escalations in sorted(Counter(receiver.delivered[e] for e in acked["escalations"]).items())},
            "delivered_twice": sum(1 for count in receiver.delivered.values() if count > 1),
            "slack_replies_per_event": {str(n): events for n, events in sorted(Counter(replies[ts] for _, ts in acked["slack"]).items())},
            "statuses": {name: dict(counter) for name, counter in balancer.statuses.items()},
            "checks": checks,
        }
    finally:
        for server in servers.values():
            if server.poll() is None:
                server.send_signal(signal.SIGTERM)
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    server.kill()
        fake_slack.stop()
        receiver.server.shutdown()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    if not all(result["checks"].values()):
        raise SystemExit(f"a check failed; the servers' logs are in {scratch}")
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
