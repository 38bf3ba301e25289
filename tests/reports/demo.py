"""A seeded, plausible ledger for the dashboard test and its screenshot (real write functions)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlmodel import Session

from bot.onboarding import Checklist
from tests.reports.conftest import converse, event

QUESTIONS = [
    (True, "How do I invite a teammate?", "invite-member"),
    (True, "How do I create a project?", "create-project"),
    (False, "Can I export my board to Excel?", None),
    (False, "Can I export the board to an Excel file?", None),
    (False, "How do I merge two workspaces?", None),
    (False, "How do we merge workspaces?", None),
    (True, "How do I connect Slack?", "connect-slack"),
    (False, "Is there an Okta SCIM app?", None),
]


def seed_demo(session: Session, checklist: Checklist, now: datetime, seed: int = 7) -> None:
    rng = random.Random(seed)
    for u in range(90):
        user, org = f"user{u}", rng.choice(["acme", "globex", "initech", "umbrella"])
        start = now - timedelta(days=rng.uniform(1, 41))
        at = start
        for number, step in enumerate(checklist.steps):
            if rng.random() < (0.9 if step.required else 0.35) - number * 0.03:
                at += timedelta(hours=rng.uniform(0.2, 30))
                if at < now:
                    event(session, checklist, f"{user}-{number}", user, org, step.events[0], at)
        if rng.random() < 0.6:
            script = [("ask", rng.choice(QUESTIONS), 0)]
            if rng.random() < 0.4:
                script.append(("vote", rng.random() < 0.7, 1))
            if rng.random() < 0.15:
                script.append(("escalate", None, 5))
            converse(session, min(start + timedelta(hours=rng.uniform(0, 20)), now - timedelta(hours=2)), script, user=user, org=org)
