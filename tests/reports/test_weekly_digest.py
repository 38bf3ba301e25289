"""The weekly review on a hand-built ledger (this week against last week, gaps, stuck
organizations), and its periodic job posting to a fake Slack Web API once per channel and week
however many instances run, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import date, datetime, timezone

import pytest
from sqlmodel import Session, select

from api.settings import Settings
from api.weekly_digest import post_due_digests
from bot.channels.slack import make_web_client
from bot.ledger.models import DigestDelivery
from bot.reports.periods import parse_tz
from bot.reports.weekly import last_full_week, weekly_review, weekly_text
from indexer.embedder import FAKE, load_embedder
from tests.integration.slack.fake_slack import FakeSlack
from tests.reports.conftest import QUIET, converse, event

pytestmark = pytest.mark.integration
UTC = timezone.utc
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # a Wednesday: the last full week is Nov 23–29
SIMILARITY = {"en": 0.6, "ja": 0.9}


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def embedder_for(locale: str):
    return load_embedder(FAKE)


def build(session, checklist) -> None:
    # Last week (Nov 16–22): l1 completes on their own in 4 h; one confirmed answer, one declined question (l2, stuck since).
    event(session, checklist, "l1a", "l1", "acme", "workspace.created", at(16))
    event(session, checklist, "l1b", "l1", "acme", "project.created", at(16, 14))
    converse(session, at(17), [("ask", True, 0), ("vote", True, 1)], user="l1", org="acme")
    converse(session, at(18), [("ask", (False, "Can I export to Excel?"), 0)], user="l2", org="globex")
    event(session, checklist, "g3a", "g3", "initech", "workspace.created", at(20))  # stuck on the project since
    # This week (Nov 23–29): t1 completes in 1 h; t2 gets a confirmed answer (stuck since); t3's question is declined (stuck since).
    event(session, checklist, "t1a", "t1", "acme", "workspace.created", at(23))
    event(session, checklist, "t1b", "t1", "acme", "project.created", at(23, 11))
    converse(session, at(24), [("ask", True, 0), ("vote", True, 1)], user="t2", org="globex")
    converse(session, at(25), [("ask", (False, "How do I merge workspaces?"), 0)], user="t3", org="umbrella")


def test_last_full_week_is_monday_to_sunday_in_the_timezone() -> None:
    week = last_full_week(NOW, parse_tz("UTC"))
    assert (week.first, week.last) == (date(2026, 11, 23), date(2026, 11, 29))
    # Monday Nov 30 01:00 in Tokyo is still Sunday in UTC: Tokyo's last full week is already Nov 23–29.
    tokyo = last_full_week(datetime(2026, 11, 29, 16, 0, tzinfo=UTC), parse_tz("Asia/Tokyo"))
    assert (tokyo.first, tokyo.last, tokyo.start) == (date(2026, 11, 23), date(2026, 11, 29), datetime(2026, 11, 22, 15, 0, tzinfo=UTC))


def test_weekly_review_this_week_against_last(db_engine, checklist) -> None:
    with Session(db_engine) as session:
        build(session, checklist)
        review = weekly_review(session, checklist, last_full_week(NOW, parse_tz("UTC")), NOW, QUIET, embedder_for, SIMILARITY)
    # This week: t2 confirmed, t3 unanswered → 1 / 2; 3 started, t1 self-serve → 1 / 3; median 1 h.
    assert review["this_week"] == {"conversations": 2, "deflection_rate": 0.5, "users_started": 3, "self_serve_completion_rate": 0.3333, "median_time_to_complete_hours": 1.0}
    # Last week: l1 confirmed, l2 unanswered → 1 / 2; l1, l2, g3 started, l1 self-serve in 4 h.
    last = review["last_week"]
    assert (last["conversations"], last["deflection_rate"], last["users_started"], last["self_serve_completion_rate"], last["median_time_to_complete_hours"]) == (2, 0.5, 3, 0.3333, 4.0)
    assert last["period"]["from"] == "2026-11-16"
    assert review["gaps"] == [{"label": "How do I merge workspaces?", "count": 1}]  # last week's Excel question is not this week's gap
    # Stuck now: globex l2 and t2, initech g3, umbrella t3 (acme's members completed).
    assert review["stuck_organizations"] == [{"org_id": "globex", "stuck_members": 2}, {"org_id": "initech", "stuck_members": 1}, {"org_id": "umbrella", "stuck_members": 1}]
    text = weekly_text(review)
    assert "2026-11-23 → 2026-11-29 (UTC)" in text
    assert "Self-serve complete 33.3% (last week 33.3%)" in text and "Time to complete    1 h (last week 4 h) (median)" in text
    assert "Top content gaps: How do I merge workspaces? (1)" in text and "Most stuck members: globex (2), initech (1), umbrella (1)" in text


def test_the_weekly_review_leaves_out_a_gap_the_knowledge_answers_now(db_engine, checklist) -> None:
    # As on the dashboard: once a writer has added the entry, the question is no gap any more.
    with Session(db_engine) as session:
        build(session, checklist)
        answered = weekly_review(session, checklist, last_full_week(NOW, parse_tz("UTC")), NOW, QUIET, embedder_for, SIMILARITY, lambda question, locale: "merge" in question)
    assert answered["gaps"] == []


def test_several_instances_post_each_weeks_digest_once(database_url, db_engine, checklist) -> None:
    from bot.ledger.db import make_engine

    fake = FakeSlack().start()
    try:
        settings = Settings(database_url=database_url, weekly_digest_channels=["CWEEK", "CLEADS"], slack_bot_token="xoxb-test", slack_api_url=fake.api_url)
        with Session(db_engine) as session:
            build(session, checklist)
        posted: list[list[str]] = []
        barrier = threading.Barrier(4)

        def instance() -> None:  # each with its own connection pool, as separate servers have
            database = make_engine(database_url)
            try:
                barrier.wait()
                posted.append(post_due_digests(database, settings, checklist, embedder_for, make_web_client(settings.slack_bot_token, settings.slack_api_url), NOW))
            finally:
                database.dispose()

        threads = [threading.Thread(target=instance) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(channel for channels in posted for channel in channels) == ["CLEADS", "CWEEK"]
        calls = fake.calls_to("chat.postMessage")
        assert sorted(call.body["channel"] for call in calls) == ["CLEADS", "CWEEK"]
        assert "jiso weekly review" in calls[0].body["text"]
        # The next check in the same week posts nothing; the week after posts again.
        client = make_web_client(settings.slack_bot_token, settings.slack_api_url)
        assert post_due_digests(db_engine, settings, checklist, embedder_for, client, NOW) == []
        assert post_due_digests(db_engine, settings, checklist, embedder_for, client, datetime(2026, 12, 7, 0, 1, tzinfo=UTC)) == ["CWEEK", "CLEADS"]
        with Session(db_engine) as session:
            rows = sorted((row.week_start, row.channel, row.status) for row in session.exec(select(DigestDelivery)))
        assert rows == [("2026-11-23", "CLEADS", "posted"), ("2026-11-23", "CWEEK", "posted"), ("2026-11-30", "CLEADS", "posted"), ("2026-11-30", "CWEEK", "posted")]
    finally:
        fake.stop()


def test_a_refused_digest_is_recorded_not_retried(db_engine, database_url, checklist) -> None:
    fake = FakeSlack().start()
    try:
        fake.errors["chat.postMessage"] = "channel_not_found"
        settings = Settings(database_url=database_url, weekly_digest_channels=["CGONE"], slack_bot_token="xoxb-test", slack_api_url=fake.api_url)
        client = make_web_client(settings.slack_bot_token, settings.slack_api_url)
        assert post_due_digests(db_engine, settings, checklist, embedder_for, client, NOW) == []
        assert post_due_digests(db_engine, settings, checklist, embedder_for, client, NOW) == []
        with Session(db_engine) as session:
            assert [row.status for row in session.exec(select(DigestDelivery))] == ["failed: channel_not_found"]
        assert len(fake.calls_to("chat.postMessage", ok_only=False)) == 1
    finally:
        fake.stop()


def test_an_unknown_digest_timezone_names_the_setting() -> None:
    from api.settings import SettingsInvalid, load_settings

    with pytest.raises(SettingsInvalid) as refused:
        load_settings(weekly_digest_tz="Mars/Base")
    assert "JISO_WEEKLY_DIGEST_TZ" in str(refused.value) and "unknown timezone" in str(refused.value)


def test_the_server_posts_the_digest_by_itself_when_channels_are_set(tmp_path, database_url, caplog) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from tests.reports.conftest import FAQ, SMALL_CHECKLIST
    from tests.support import indexed_settings

    fake = FakeSlack().start()
    try:
        files = {"en/faq/projects.md": FAQ, "onboarding.yml": SMALL_CHECKLIST}
        settings = indexed_settings(tmp_path, files, database_url=database_url, weekly_digest_channels=["CWEEK"], slack_bot_token="xoxb-test", slack_api_url=fake.api_url)
        with TestClient(create_app(settings)):
            call = fake.wait_for(lambda: fake.calls_to("chat.postMessage"))
        assert call[0].body["channel"] == "CWEEK" and "jiso weekly review" in call[0].body["text"]
        # Channels without a token: one line naming both settings, and nothing posted.
        with TestClient(create_app(settings.model_copy(update={"slack_bot_token": ""}))):
            pass
        assert "JISO_WEEKLY_DIGEST_CHANNELS is set but SLACK_BOT_TOKEN is not" in caplog.text
        assert len(fake.calls_to("chat.postMessage")) == 1
    finally:
        fake.stop()


def test_an_unreachable_slack_records_the_digest_failed_not_claimed_forever(db_engine, database_url, checklist) -> None:
    # Not a Slack refusal but no Slack at all (a network error): the week's claim still ends, as failed.
    settings = Settings(database_url=database_url, weekly_digest_channels=["CWEEK"], slack_bot_token="xoxb-test", slack_api_url="http://127.0.0.1:9/api/")
    client = make_web_client(settings.slack_bot_token, settings.slack_api_url)
    assert post_due_digests(db_engine, settings, checklist, embedder_for, client, NOW) == []
    with Session(db_engine) as session:
        [row] = session.exec(select(DigestDelivery))
        assert row.status.startswith("failed: ") and "claimed" not in row.status
