"""`jiso keys create` and `jiso report` through the CLI runner, on a real SQLite ledger."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlmodel import Session
from typer.testing import CliRunner

from api.cli import app
from bot.apikeys import verify_key
from bot.ledger.db import make_engine, upgrade
from bot.ledger.events import NewEvent, record_events
from tests.reports.conftest import SMALL_CHECKLIST, converse

pytestmark = pytest.mark.integration


@pytest.fixture
def env(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    (knowledge / "onboarding.yml").write_text(SMALL_CHECKLIST, encoding="utf-8")
    monkeypatch.setenv("JISO_DATABASE_URL", url)
    monkeypatch.setenv("JISO_KNOWLEDGE_DIR", str(knowledge))
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def test_keys_create_prints_the_secret_once_and_stores_its_hash(env) -> None:
    result = CliRunner().invoke(app, ["keys", "create", "--role", "manager", "--org", "acme"])
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip().splitlines()[0]
    with Session(env) as session:
        principal = verify_key(session=session, presented=secret)
    assert principal is not None and (principal.role, principal.org_id) == ("manager", "acme")
    assert CliRunner().invoke(app, ["keys", "create", "--role", "root"]).exit_code == 2


def test_report_prints_the_summary(env) -> None:
    with Session(env) as session:
        converse(session, datetime.now(timezone.utc) - timedelta(days=2), [("ask", True, 0), ("vote", True, 1)], user="u1", org="acme")
        converse(session, datetime.now(timezone.utc) - timedelta(days=20), [("ask", False, 0)], user="u2", org="acme")
    text = CliRunner().invoke(app, ["report", "--since", "7d"])
    assert text.exit_code == 0, text.output
    assert "Conversations      1 (1 decided, 0 open)" in text.stdout and "Deflection         100.0%" in text.stdout
    data = json.loads(CliRunner().invoke(app, ["report", "--since", "4w", "--json", "--tz", "Asia/Tokyo"]).stdout)
    assert data["conversations"]["conversations"] == 2 and data["period"]["tz"] == "Asia/Tokyo"
    assert CliRunner().invoke(app, ["report", "--tz", "Nowhere/Town"]).exit_code == 2


def test_report_covers_the_same_default_period_as_the_api(env) -> None:
    from bot.reports.periods import DEFAULT_DAYS

    data = json.loads(CliRunner().invoke(app, ["report", "--json"]).stdout)
    first, last = (datetime.fromisoformat(data["period"][end]).date() for end in ("from", "to"))
    assert DEFAULT_DAYS == 30 and (last - first).days == DEFAULT_DAYS - 1 and last == datetime.now(timezone.utc).date()


def test_report_posts_the_weekly_digest_to_slack(env, monkeypatch) -> None:
    from tests.integration.slack.fake_slack import FakeSlack

    with Session(env) as session:
        converse(session, datetime.now(timezone.utc) - timedelta(days=2), [("ask", True, 0), ("vote", True, 1)], user="u1", org="acme")
    fake = FakeSlack().start()
    try:
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
        monkeypatch.setenv("JISO_SLACK_API_URL", fake.api_url)
        result = CliRunner().invoke(app, ["report", "--since", "7d", "--slack-channel", "C-CS-MANAGERS"])
        assert result.exit_code == 0, result.output
        posts = fake.calls_to("chat.postMessage")
        assert len(posts) == 1
        assert posts[0].body["channel"] == "C-CS-MANAGERS"
        assert "Deflection         100.0%" in posts[0].body["text"]
        assert posts[0].headers.get("Authorization") == "Bearer xoxb-test"
    finally:
        fake.stop()


def test_report_with_a_token_slack_refuses_or_an_unreachable_slack_is_one_line(env, monkeypatch) -> None:
    from tests.integration.slack.fake_slack import FakeSlack

    fake = FakeSlack().start()
    try:
        fake.errors["chat.postMessage"] = "invalid_auth"
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-revoked")
        monkeypatch.setenv("JISO_SLACK_API_URL", fake.api_url)
        refused = CliRunner().invoke(app, ["report", "--slack-channel", "C1"])
    finally:
        fake.stop()
    assert refused.exit_code == 2 and "Slack refused the digest (invalid_auth): check SLACK_BOT_TOKEN" in refused.output
    assert "Traceback" not in refused.output
    monkeypatch.setenv("JISO_SLACK_API_URL", "http://127.0.0.1:9/")
    unreachable = CliRunner().invoke(app, ["report", "--slack-channel", "C1"])
    assert unreachable.exit_code == 2 and "could not reach Slack at http://127.0.0.1:9/" in unreachable.output and "JISO_SLACK_API_URL" in unreachable.output


def test_report_without_a_slack_token_says_so_and_posts_nothing(env, monkeypatch) -> None:
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.delenv("JISO_SLACK_BOT_TOKEN", raising=False)
    result = CliRunner().invoke(app, ["report", "--slack-channel", "C1"])
    assert result.exit_code == 1
    assert "SLACK_BOT_TOKEN is not set: digest not posted" in result.output


def test_keys_list_and_revoke(env) -> None:
    runner = CliRunner()
    secret = runner.invoke(app, ["keys", "create", "--role", "ingest", "--org", "acme", "--name", "product backend"]).stdout.strip().splitlines()[0]
    prefix = secret.split("_")[1]
    listed = runner.invoke(app, ["keys", "list"])
    assert listed.exit_code == 0, listed.output
    line = next(line for line in listed.stdout.splitlines() if f"jiso_{prefix}_…" in line)
    assert "ingest" in line and "acme" in line and "active" in line and "product backend" in line
    assert secret not in listed.stdout  # the secret is shown once, at creation, never again
    key_id = line.split()[0]

    revoked = runner.invoke(app, ["keys", "revoke", key_id])
    assert revoked.exit_code == 0, revoked.output
    assert f"key {key_id} revoked at" in revoked.stdout
    with Session(env) as session:
        assert verify_key(session=session, presented=secret) is None
    assert "revoked" in next(line for line in runner.invoke(app, ["keys", "list"]).stdout.splitlines() if key_id in line)

    missing = runner.invoke(app, ["keys", "revoke", "0" * 32])
    assert missing.exit_code == 1
    assert f"API key {'0' * 32} not found" in missing.output


def test_db_settle_folds_the_outcomes_and_computes_the_changed_users(env) -> None:
    with Session(env) as session:
        converse(session, datetime.now(timezone.utc) - timedelta(days=2), [("ask", True, 0)], user="u1", org="acme")
        converse(session, datetime.now(timezone.utc) - timedelta(days=3), [("ask", True, 0)], user="u2", org="acme")
        record_events(session=session, events=[NewEvent("e1", "u1", "acme", "page.viewed", datetime.now(timezone.utc) - timedelta(days=1))], known_names=frozenset())
    result = CliRunner().invoke(app, ["db", "settle"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "2 outcome change(s) and 1 unknown event change(s) folded in; 2 user(s) settled, 0 still to do"
    with Session(env) as session:
        assert sorted(session.execute(text("SELECT user_id FROM onboarding_states")).scalars()) == ["u1", "u2"]
        assert session.execute(text("SELECT count(*) FROM outcome_changes")).scalar_one() == 0
        assert session.execute(text("SELECT sum(n) FROM outcome_hours")).scalar_one() == 2
