"""Conversation list benchmark: the dashboard's "Recent conversations" (bot.reports.conversation_list)
over a seeded synthetic ledger with turns, on SQLite and PostgreSQL (a dedicated schema, dropped
afterwards). Not part of the test suite.

    .venv/bin/python bench/conversation_list_bench.py --conversations 300000

Prints one JSON line per database and writes bench/results/conversation-list.json.
"""

from __future__ import annotations

import argparse
import random
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlmodel import Session  # noqa: E402

from bench.ledger_bench import bulk_load, run_on_each_database, timed  # noqa: E402
from bot.ledger.db import make_engine, upgrade  # noqa: E402
from bot.reports.conversation_list import conversation_page  # noqa: E402
from bot.reports.periods import Period, parse_tz  # noqa: E402
from bot.reports.queries import Filters, Window  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)
DAYS = 182
QUIET = timedelta(hours=24)
CHUNK = 50_000
QUESTIONS = [
    "How do I invite a teammate?",
    "Can I export my board to Excel?",
    "How do we merge workspaces?",
    "Is there an Okta SCIM app?",
    "請求書をエクスポートできますか?",
    "プロジェクトの作り方は?",
]
CONVERSATION_COLUMNS = (
    "id",
    "channel",
    "locale",
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
TURN_COLUMNS = ("id", "conversation_id", "seq", "question", "answer_text", "answered", "quiet", "confidence", "sources", "choices", "created_at")


def generate(seed: int, conversations: int, orgs: int):
    """Yields (table, columns, rows-chunk); the same seed gives the same ledger."""
    rng = random.Random(seed)
    chats, turns = [], []
    for c in range(conversations):
        created = NOW - timedelta(seconds=rng.uniform(0, DAYS * 86400))
        count = rng.randint(1, 3)
        roll = rng.random()
        last = created + timedelta(minutes=count)
        chats.append(
            (f"{c:032x}", rng.choice(("web", "slack")), rng.choice(("en", "ja")), f"org{rng.randrange(orgs)}", created, last, count, rng.random() < 0.75, rng.random() < 0.1)
            + (last if 0.1 <= roll < 0.3 else None, last if roll < 0.1 else None, roll < 0.1, 0)
        )
        for seq in range(1, count + 1):
            turns.append(
                (uuid.UUID(int=rng.getrandbits(128)).hex, f"{c:032x}", seq, f"{rng.choice(QUESTIONS)} #{rng.randrange(1000)}", "a", True, False, 0.5, "[]", "[]", created + timedelta(minutes=seq))
            )
        if len(turns) >= CHUNK:
            yield "conversations", CONVERSATION_COLUMNS, chats
            yield "turns", TURN_COLUMNS, turns
            chats, turns = [], []
    if chats:
        yield "conversations", CONVERSATION_COLUMNS, chats
        yield "turns", TURN_COLUMNS, turns


def run(url: str, dialect: str, args) -> dict:
    upgrade(url)
    engine = make_engine(url)
    result = {"database": dialect, "conversations": args.conversations, "load_s": round(bulk_load(engine, dialect, generate(args.seed, args.conversations, args.orgs)), 1)}
    tz = parse_tz("Asia/Tokyo")
    last = NOW.astimezone(tz).date()
    period = Period.of(last - timedelta(days=29), last, tz)  # the default period: 30 days
    window = Window(period.start, period.end, NOW, QUIET, Filters())
    one_org = Window(period.start, period.end, NOW, QUIET, Filters(org_id="org1"))
    cases = {
        "first_page": lambda session: conversation_page(session, window),
        "escalated": lambda session: conversation_page(session, window, outcome="escalated"),
        "search_export": lambda session: conversation_page(session, window, search="export"),
        "search_japanese": lambda session: conversation_page(session, window, search="エクスポート"),
        "one_org": lambda session: conversation_page(session, one_org),
        "offset_10000": lambda session: conversation_page(session, window, offset=10_000),
    }
    with Session(engine) as session:
        result["in_period"] = conversation_page(session, window, limit=1).total
        result["search_export_total"] = conversation_page(session, window, search="export", limit=1).total
        for name, case in cases.items():
            result[name] = timed(lambda case=case: case(session), args.repeats)
    engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=300_000)
    parser.add_argument("--orgs", type=int, default=500)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "conversation-list.json")
    args = parser.parse_args()
    run_on_each_database(args.databases, lambda url, dialect: run(url, dialect, args), args.out)


if __name__ == "__main__":
    main()
