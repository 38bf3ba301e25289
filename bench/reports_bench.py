"""Reports benchmark: summary, weekly timeseries and organizations over a seeded synthetic ledger,
on SQLite and PostgreSQL (a dedicated schema, dropped afterwards), each computed row by row
(`before_*`, as before the rollups) and from the rollups, back to back, with a check that both give
the same numbers. Not part of the test suite.

    .venv/bin/python bench/reports_bench.py --conversations 1000000 --users 100000
    .venv/bin/python bench/reports_bench.py --conversations 20000 --users 2000 --databases sqlite   # quick look
    .venv/bin/python bench/reports_bench.py --conversations 10000000 --users 1000000 --databases postgresql --row-by-row-repeats 1 --keep-schema bench10m

Prints one JSON line per database and writes bench/results/reports.json.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from bench.ledger_bench import bulk_load, run_on_each_database, stamp, timed  # noqa: E402
from bot.ledger.db import make_engine, upgrade  # noqa: E402
from bot.ledger.rollups import compact_changes  # noqa: E402
from bot.onboarding import load_checklist  # noqa: E402
from bot.reports import kpis, queries  # noqa: E402
from bot.reports.onboarding_states import refresh_until_settled  # noqa: E402
from bot.reports.periods import Period, parse_tz  # noqa: E402
from bot.reports.queries import Filters, Window  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)
DAYS = 182
QUIET = timedelta(hours=24)
CHUNK = 50_000


def generate(seed: int, conversations: int, users: int, checklist):
    """Yields (table, columns, rows-chunk); the same seed gives the same ledger."""
    rng = random.Random(seed)
    orgs = max(1, users // 50)
    created = stamp(NOW - timedelta(days=DAYS + 30))
    yield "organizations", ("id", "created_at"), [(f"org{o}", created) for o in range(orgs)]
    user_org = [f"org{rng.randrange(orgs)}" for _ in range(users)]
    yield "end_users", ("id", "org_id", "created_at"), [(f"u{u}", user_org[u], created) for u in range(users)]
    events, event_number = [], 0
    for u in range(users):
        at = NOW - timedelta(days=rng.uniform(0, DAYS))
        for position, step in enumerate(checklist.steps):
            if rng.random() < (0.85 if step.required else 0.3) - 0.03 * position:
                at += timedelta(hours=rng.expovariate(1 / 12))
                if at < NOW:
                    events.append((f"e{event_number}", f"u{u}", user_org[u], step.events[0], stamp(at), "{}", True, stamp(at)))
                    event_number += 1
        for _ in range(rng.randint(0, 4)):  # activity, counted by the active-minutes rule
            seen = at - timedelta(minutes=rng.randint(0, 600))
            if seen >= NOW:
                continue  # a ledger read at NOW holds nothing after it (the reports' now is the present)
            events.append((f"e{event_number}", f"u{u}", user_org[u], "page.viewed", stamp(seen), "{}", False, stamp(seen)))
            event_number += 1
        if len(events) >= CHUNK:
            yield "onboarding_events", ("event_id", "user_id", "org_id", "name", "occurred_at", "properties", "known", "received_at"), events
            events = []
    if events:
        yield "onboarding_events", ("event_id", "user_id", "org_id", "name", "occurred_at", "properties", "known", "received_at"), events
    columns = (
        "id",
        "channel",
        "locale",
        "user_id",
        "org_id",
        "created_at",
        "last_activity_at",
        "turn_count",
        "last_turn_answered",
        "last_turn_not_helpful",
        "confirmed_at",
        "escalated_at",
        "handed_over",
        "reopened_count",
    )
    rows, escalations, replies = [], [], []
    for c in range(conversations):
        created_at = NOW - timedelta(seconds=rng.uniform(0, DAYS * 86400))
        last = min(created_at + timedelta(minutes=rng.uniform(0, 30)), NOW)
        user = rng.randrange(users) if rng.random() < 0.6 else None
        roll = rng.random()
        escalated = stamp(last) if roll < 0.1 else None
        confirmed = stamp(last) if 0.1 <= roll < 0.3 else None
        answered = rng.random() < 0.75
        rows.append(
            (
                f"{c:032x}",
                rng.choice(("web", "slack")),
                rng.choice(("en", "ja")),
                f"u{user}" if user is not None else None,
                user_org[user] if user is not None else f"org{rng.randrange(orgs)}",
                stamp(created_at),
                stamp(last),
                0 if rng.random() < 0.02 else rng.randint(1, 3),
                answered,
                (not answered) and rng.random() < 0.5 or rng.random() < 0.05,
                confirmed,
                escalated,
                escalated is not None,
                0,
            )
        )
        if escalated is not None:  # the hand-over, closed by a person for most, answered for more
            reply_at = last + timedelta(hours=rng.expovariate(1 / 4))
            closed = stamp(reply_at + timedelta(hours=rng.expovariate(1 / 8))) if rng.random() < 0.6 else None
            escalations.append((f"x{c:031x}", f"{c:032x}", "asked for a person", "[]", "{}", escalated, closed))
            if rng.random() < 0.7:
                replies.append((f"r{c:031x}", f"{c:032x}", f"x{c:031x}", "a person's answer", "api", stamp(reply_at)))
        if len(rows) >= CHUNK:
            yield from _conversation_chunks(columns, rows, escalations, replies)
            rows, escalations, replies = [], [], []
    if rows:
        yield from _conversation_chunks(columns, rows, escalations, replies)


def _conversation_chunks(columns, rows, escalations, replies):
    yield "conversations", columns, rows
    yield "escalations", ("id", "conversation_id", "reason", "destinations", "delivery", "created_at", "closed_at"), escalations
    yield "person_replies", ("id", "conversation_id", "escalation_id", "text", "via", "created_at"), replies


def plan_indexes(session: Session, dialect: str, statement) -> list[str]:
    compiled = statement.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True})
    if dialect == "sqlite":
        rows = session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
        return sorted({m for row in rows for m in re.findall(r"(?:INDEX|COVERING INDEX) (\w+)", row[-1])})
    plan = session.execute(text(f"EXPLAIN (FORMAT JSON) {compiled}")).scalar()
    return sorted(set(re.findall(r'"Index Name": "(\w+)"', json.dumps(plan))))


def loaded(engine, args) -> bool:
    """Whether the database holds this benchmark's ledger already (a kept schema, `--keep-schema`)."""
    with engine.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM conversations")).scalar_one() == args.conversations


def run(url: str, dialect: str, args, checklist) -> dict:
    started = time.perf_counter()
    upgrade(url)  # on a kept ledger, how long the migrations since its load took
    result = {"database": dialect, "conversations": args.conversations, "users": args.users, "upgrade_s": round(time.perf_counter() - started, 1)}
    engine = make_engine(url)
    if args.keep_schema and loaded(engine, args):
        result["reused_schema"] = args.keep_schema  # loaded, settled and folded by an earlier run of the same command
        # Nothing left to do unless it was interrupted (or a migration since marked users dirty).
        result["left_by_the_earlier_run"] = {"changes": compact_changes(engine), "users": refresh_until_settled(engine, checklist, budget=timedelta(hours=1))}
    else:
        load_s = bulk_load(engine, dialect, generate(args.seed, args.conversations, args.users, checklist))
        started = time.perf_counter()
        settled = refresh_until_settled(engine, checklist, budget=timedelta(hours=1))  # what the server's loop does after a bulk write
        result |= {"load_s": round(load_s, 1), "refresh_s": round(time.perf_counter() - started, 1), "settled_users": settled}
        started = time.perf_counter()
        result["compacted_changes"] = compact_changes(engine)  # what the server's upkeep loop does
        result["compact_s"] = round(time.perf_counter() - started, 2)
    # What autovacuum (PostgreSQL, on by default; off on the benchmark machine's server) or `PRAGMA
    # optimize` (SQLite) keep: the settled tables' statistics, and on PostgreSQL the space of the
    # folded changes and cleared dirty marks freed (else each report scans millions of dead rows).
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE" if dialect == "postgresql" else "ANALYZE"))
    tz = parse_tz(args.tz)
    last = (NOW - timedelta(days=1)).astimezone(tz).date()
    period = Period.of(last - timedelta(days=DAYS - 1), last, tz)
    with Session(engine) as session:
        counts = session.execute(
            text("SELECT (SELECT count(*) FROM conversations), (SELECT count(*) FROM onboarding_events), (SELECT count(*) FROM end_users), (SELECT count(*) FROM escalations)")
        ).one()
        result["rows"] = {"conversations": counts[0], "onboarding_events": counts[1], "end_users": counts[2], "escalations": counts[3]}
        reports = {"summary": kpis.summary, "timeseries_week": partial(kpis.timeseries, interval="week"), "organizations": kpis.organizations}
        # Before (every row computed, as until migration 0008) and after (the rollups), back to back.
        for rollups, prefix in ((False, "before_"), (True, "")):
            scope = kpis.ReportScope(session, checklist, period, Filters(), NOW, QUIET, rollups=rollups)
            repeats = args.repeats if rollups else args.row_by_row_repeats or args.repeats
            for name, call in reports.items():
                result[prefix + name] = timed(partial(call, scope), repeats)
            org_scope = kpis.ReportScope(session, checklist, period, Filters(org_id="org1"), NOW, QUIET, rollups=rollups)
            result[prefix + "summary_one_org"] = timed(partial(kpis.summary, org_scope), repeats)
        scope = kpis.ReportScope(session, checklist, period, Filters(), NOW, QUIET)
        exact = kpis.ReportScope(session, checklist, period, Filters(), NOW, QUIET, rollups=False)
        result["same_numbers_as_before"] = {name: call(scope) == call(exact) for name, call in reports.items()}
        org_scope = kpis.ReportScope(session, checklist, period, Filters(org_id="org1"), NOW, QUIET)
        summary = kpis.summary(scope)
        result["check"] = {
            "conversations": summary["conversations"]["conversations"],
            "users_started": summary["onboarding"]["users_started"],
            "deflection_rate": summary["conversations"]["deflection_rate"],
        }
        one_org = kpis.summary(org_scope)["onboarding"]
        result["check_one_org"] = {key: one_org[key] for key in ("users_started", "users_completed", "median_time_to_complete_hours", "p90_time_to_complete_hours")}
        # Steady state: a few users written to since the last refresh (the triggers mark them).
        session.execute(text("UPDATE onboarding_events SET received_at = received_at WHERE user_id IN (SELECT id FROM end_users ORDER BY id LIMIT 100)"))
        session.commit()
        result["summary_100_dirty"] = timed(lambda: kpis.summary(scope), 1)
        started = time.perf_counter()
        result["refresh_100_dirty"] = {"users": refresh_until_settled(engine, checklist), "s": round(time.perf_counter() - started, 3)}
        window = Window(period.start, period.end, NOW, QUIET, Filters())
        from sqlalchemy import func, select

        from bot.ledger.outcomes import outcome_sql

        conversation_query = select(outcome_sql(NOW, QUIET)).where(*queries.conversation_filters(window))
        users = queries.user_rows(checklist, window, dialect)
        result["indexes_used"] = {
            "conversations_by_outcome": plan_indexes(session, dialect, conversation_query),
            "conversations_one_org": plan_indexes(session, dialect, conversation_query.where(queries.C.c.org_id == "org1")),
            "onboarding_users": plan_indexes(session, dialect, select(func.count()).select_from(users)),
            "onboarding_users_settled": plan_indexes(session, dialect, select(func.count()).select_from(queries.onboarding_users(checklist, window, dialect))),
        }
    engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--row-by-row-repeats", type=int, help="runs of each row-by-row report (default: --repeats; at 10M each takes a minute)")
    parser.add_argument("--tz", default="Asia/Tokyo")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "reports.json")
    parser.add_argument("--keep-schema", help="PostgreSQL: load into this schema and keep it; a later run with it reuses the ledger (10M conversations take ~20 minutes to load)")
    args = parser.parse_args()
    checklist = load_checklist(REPO / "knowledge")
    run_on_each_database(args.databases, lambda url, dialect: run(url, dialect, args, checklist), args.out, keep_schema=args.keep_schema)


if __name__ == "__main__":
    main()
