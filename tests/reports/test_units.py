"""Periods, the checklist file, API key secrets and the grouping of questions (no database)."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from bot.onboarding import check_knowledge, load_checklist, parse_checklist
from bot.reports.clusters import cluster_questions, group_labels
from bot.reports.periods import BadPeriod, Period, buckets, parse_since, parse_tz
from bot.reports.queries import _months_and_days
from indexer.documents import StepReference
from indexer.embedder import HashingEmbedder

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]


def test_unknown_timezone_is_refused() -> None:
    for name in ("Mars/Olympus", "", "../etc/passwd", "/etc/localtime"):
        with pytest.raises(BadPeriod, match="unknown timezone"):
            parse_tz(name)


def test_buckets_across_daylight_saving_are_contiguous_local_midnights() -> None:
    tz = parse_tz("America/Los_Angeles")  # DST ends Sun Nov 1 2026
    weeks = buckets(Period.of(date(2026, 10, 20), date(2026, 11, 10), tz), "week")
    assert [b.label.isoformat() for b in weeks] == ["2026-10-19", "2026-10-26", "2026-11-02", "2026-11-09"]
    assert [b.start.astimezone(tz).time().isoformat() for b in weeks] == ["00:00:00"] * 4
    assert weeks[1].end - weeks[1].start == timedelta(days=7, hours=1)  # the week with 25-hour Sunday
    assert all(weeks[i].end == weeks[i + 1].start for i in range(len(weeks) - 1))


def test_month_buckets_cover_december_to_january() -> None:
    months = buckets(Period.of(date(2026, 12, 15), date(2027, 1, 2), parse_tz("Asia/Tokyo")), "month")
    assert [(m.label.isoformat(), m.start.isoformat()) for m in months] == [("2026-12-01", "2026-11-30T15:00:00+00:00"), ("2027-01-01", "2026-12-31T15:00:00+00:00")]


def test_a_window_of_days_is_read_as_months_plus_or_minus_the_fewest_days() -> None:
    rng = random.Random(3)
    day = timedelta(days=1)
    for _ in range(2000):
        a_start = datetime(2026, 1, 1, tzinfo=timezone.utc) + rng.randint(0, 500) * day
        a_end = a_start + rng.choice([0, 1, 2, 27, 28, 29, 30, 31, 32, 58, 90, 182, 400]) * day + rng.randint(0, 3) * day
        cover = _months_and_days(a_start, a_end)
        counted: dict[datetime, int] = {}
        month = cover["m_start"]
        while month < cover["m_end"]:  # each whole month, as its days
            following = (month + 32 * day).replace(day=1)
            for n in range((following - month).days):
                counted[month + n * day] = counted.get(month + n * day, 0) + 1
            month = following
        for side in ("l", "r"):
            for n in range((cover[f"{side}_end"] - cover[f"{side}_start"]).days):
                counted[cover[f"{side}_start"] + n * day] = counted.get(cover[f"{side}_start"] + n * day, 0) + cover[f"{side}_sign"]
        assert {d for d, n in counted.items() if n} == {a_start + n * day for n in range((a_end - a_start).days)}, (a_start, a_end)
        assert all(n in (0, 1) for n in counted.values())
        read = sum((cover[f"{side}_end"] - cover[f"{side}_start"]).days for side in ("l", "r"))
        assert read <= (a_end - a_start).days and read <= 31  # never more days than the window, at most a month
    june = _months_and_days(datetime(2026, 6, 2, tzinfo=timezone.utc), datetime(2026, 11, 30, tzinfo=timezone.utc))
    assert (june["m_start"].month, june["m_end"].month, june["l_sign"], june["r_sign"]) == (6, 12, -1, -1)  # June 1 and Nov 30 taken away


def test_period_checks_and_since() -> None:
    with pytest.raises(BadPeriod, match="before"):
        Period.of(date(2026, 11, 2), date(2026, 11, 1), parse_tz("UTC"))
    now = datetime(2026, 11, 20, 16, 0, tzinfo=timezone.utc)  # already Nov 21 in Tokyo
    assert parse_since("7d", now, parse_tz("Asia/Tokyo")) == (date(2026, 11, 15), date(2026, 11, 21))
    with pytest.raises(BadPeriod, match="--since"):
        parse_since("seven", now, parse_tz("UTC"))


def test_shipped_checklist_loads_and_matches_the_knowledge() -> None:
    checklist = load_checklist(REPO / "knowledge")
    assert checklist.ids[0] == "create-account" and len(checklist.steps) == 11
    assert [s.id for s in checklist.required] == ["create-account", "create-workspace", "invite-members", "create-first-project"]
    assert checklist.steps[4].active_minutes.minutes == 60 and checklist.steps[1].title("ja") == "ワークスペースを作成する"
    from indexer.content import scan_knowledge

    assert check_knowledge(REPO / "knowledge", scan_knowledge(REPO / "knowledge").step_references) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("steps: [}", "onboarding.yml:1: not valid YAML"),
        ("steps:\n  - id: Bad Id\n    title: {en: x}\n    events: [a]\n    required: true\n", "onboarding.yml:2: steps.0.id: step ids are lowercase"),
        ("steps:\n  - id: a\n    title: {ja: x}\n    events: [a]\n    required: true\n", "onboarding.yml:3: steps.0.title: needs at least an English title"),
        ("steps:\n  - id: a\n    title: {en: x}\n    events: [e]\n  - id: b\n    title: {en: y}\n    events: [e]\n    required: true\n", "onboarding.yml:5: event 'e' already completes step 'a'"),
        ("steps:\n  - id: a\n    title: {en: x}\n    events: [e]\n", "onboarding.yml:2: no step is required"),
        ("steps:\n  - id: a\n    title: {en: x}\n    required: true\n", "onboarding.yml:2: step 'a' can never be done"),
        (
            "steps:\n  - id: a\n    title: {en: x}\n    events: [e]\n    required: true\n    active_minutes: {min: 0, within_days: 3}\n",
            "onboarding.yml:6: steps.0.active_minutes.min: Input should be greater than or equal to 1",
        ),
        (
            "steps:\n" + "".join(f"  - id: s{i}\n    title: {{en: x}}\n    events: [e{i}]\n    required: true\n" for i in range(63)),
            "onboarding.yml:2: steps: List should have at most 62 items",
        ),
    ],
)
def test_checklist_problems_name_file_and_line(text: str, expected: str) -> None:
    checklist, problems = parse_checklist(text)
    assert checklist is None
    assert any(str(problem).startswith(expected) for problem in problems), problems


def test_lint_flags_an_entry_naming_an_unknown_step(tmp_path: Path) -> None:
    (tmp_path / "onboarding.yml").write_text("steps:\n  - id: a\n    title: {en: x}\n    events: [e]\n    required: true\n")
    reference = StepReference("en/faq/x.md", 3, "invite-members")
    assert [str(p) for p in check_knowledge(tmp_path, [reference])] == ["en/faq/x.md:3: onboarding_step 'invite-members' is not a step of onboarding.yml (a)"]


def test_questions_grouped_by_meaning_deterministically() -> None:
    rows = [
        {"question": q, "locale": "en", "unanswered": True, "escalated": esc}
        for q, esc in [
            ("How do I export my invoices?", False),
            ("how do i export my invoices", True),
            ("How do I export invoices?", False),
            ("Where is the SAML single sign-on setting?", True),
        ]
    ] + [{"question": "請求書をエクスポートしたい", "locale": "ja", "unanswered": True, "escalated": False}]
    embedder = HashingEmbedder()
    first = cluster_questions(rows, lambda locale: embedder, min_similarity={"en": 0.5, "ja": 0.5})
    again = cluster_questions(list(reversed(rows)), lambda locale: embedder, min_similarity={"en": 0.5, "ja": 0.5})
    assert [c.to_json() for c in first] == [c.to_json() for c in again]
    assert [(c.locale, c.count, c.unanswered, c.escalated) for c in first] == [("en", 3, 3, 1), ("en", 1, 1, 1), ("ja", 1, 1, 0)]
    assert first[0].examples[0] == "How do I export my invoices?"  # asked twice (case and punctuation aside)


def test_average_linkage_threshold() -> None:
    vectors = np.array([[1, 0], [0.96, 0.28], [0, 1]], dtype=np.float32)  # cos(0,1)=0.96
    assert group_labels(vectors, 0.9)[:2] == [group_labels(vectors, 0.9)[0]] * 2
    assert len(set(group_labels(vectors, 0.99))) == 3
