"""Without Slack settings jiso runs and says Slack is off; `jiso slack` needs its tokens."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli
from api.settings import Settings
from tests.support import FAKE_THRESHOLDS, write_calibrations

pytestmark = pytest.mark.integration

SLACK_VARIABLES = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "JISO_SLACK_BOT_TOKEN", "JISO_SLACK_SIGNING_SECRET", "JISO_SLACK_APP_TOKEN")


@pytest.fixture
def no_slack_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SLACK_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_without_slack_settings_the_app_runs_and_slack_events_say_it_is_off(no_slack_env: None, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(
        model_en="fake-hashing",
        model_ja="fake-hashing",
        companion_model_en="",
        calibration_dir=write_calibrations(tmp_path / "calibrations", "fake-hashing", FAKE_THRESHOLDS),
        lexical_ja="bigram",
        knowledge_dir=tmp_path / "knowledge",
        index_dir=tmp_path / "index",
        database_url=f"sqlite:///{tmp_path / 'ledger.db'}",
    )
    with caplog.at_level(logging.INFO, logger="api.app"), TestClient(create_app(settings)) as client:
        response = client.post("/slack/events", content=b"{}", headers={"Content-Type": "application/json"})
        assert client.get("/health").status_code == 200
    assert response.status_code == 404
    assert response.json() == {"detail": "Slack is off: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET"}
    assert any("Slack is off" in record.getMessage() for record in caplog.records)


def test_a_bot_token_without_the_signing_secret_keeps_http_mode_off(no_slack_env: None, tmp_path: Path) -> None:
    settings = Settings(
        model_en="fake-hashing",
        model_ja="fake-hashing",
        companion_model_en="",
        calibration_dir=write_calibrations(tmp_path / "calibrations", "fake-hashing", FAKE_THRESHOLDS),
        knowledge_dir=tmp_path / "k",
        index_dir=tmp_path / "i",
        database_url=f"sqlite:///{tmp_path / 'ledger.db'}",
        slack_bot_token="xoxb-test",
    )
    with TestClient(create_app(settings)) as client:
        assert client.post("/slack/events", content=b"{}").status_code == 404


@pytest.mark.parametrize(
    ("env", "missing"), [({}, "SLACK_APP_TOKEN and SLACK_BOT_TOKEN"), ({"SLACK_BOT_TOKEN": "xoxb-test"}, "SLACK_APP_TOKEN"), ({"SLACK_APP_TOKEN": "xapp-test"}, "SLACK_BOT_TOKEN")]
)
def test_socket_mode_without_its_tokens_exits_2_and_says_what_is_missing(no_slack_env: None, env: dict[str, str], missing: str) -> None:
    result = CliRunner().invoke(cli, ["slack"], env=env)
    assert result.exit_code == 2
    assert f"Socket Mode needs {missing}" in result.output
