"""An invalid setting is one line naming its variable and the fix, and exit code 2, for every command."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.settings import Settings, SettingsInvalid, load_settings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = [
    ["lint"],
    ["index"],
    ["ask", "How do I invite a teammate?"],
    ["eval", "tests/fixtures/beir-tiny"],
    ["serve"],
    ["slack"],
    ["db", "upgrade"],
    ["keys", "create", "--role", "manager"],
    ["keys", "list"],
    ["keys", "revoke", "k1"],
    ["report"],
]
DURATION_LINE = "JISO_ASSUME_RESOLVED_AFTER='24 hours please' is not a duration: write 24h, 90m, 30s, 2d, 1w, ISO 8601 such as PT24H, or a number of seconds"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24h", timedelta(hours=24)),
        ("90m", timedelta(minutes=90)),
        ("30s", timedelta(seconds=30)),
        ("2d", timedelta(days=2)),
        ("1w", timedelta(weeks=1)),
        ("1.5h", timedelta(minutes=90)),
        ("PT24H", timedelta(hours=24)),
        ("86400", timedelta(days=1)),
    ],
)
def test_durations_accept_the_obvious_forms(text: str, expected: timedelta) -> None:
    assert Settings(assume_resolved_after=text).assume_resolved_after == expected
    assert Settings(session_valid_for=text).session_valid_for == expected


def test_a_dashboard_sign_in_lasts_a_positive_duration() -> None:
    with pytest.raises(SettingsInvalid) as refused:
        load_settings(session_valid_for="0")
    assert refused.value.lines == ["JISO_SESSION_VALID_FOR='0' is invalid (value error, a dashboard sign-in must last longer than zero): correct it or unset it for the default"]
    with pytest.raises(SettingsInvalid) as refused:
        load_settings(session_valid_for="soon")
    assert refused.value.lines[0].startswith("JISO_SESSION_VALID_FOR='soon' is not a duration: write 24h")


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: " ".join(command[:2]))
def test_an_invalid_setting_is_one_line_and_exit_2_for_every_command(command: list[str], tmp_path: Path) -> None:
    env = {"JISO_ASSUME_RESOLVED_AFTER": "24 hours please", "JISO_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}", "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"}
    result = CliRunner().invoke(app, command, env=env)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [DURATION_LINE]
    assert not (tmp_path / "ledger.db").exists()  # refused before doing anything


@pytest.mark.parametrize(
    ("variable", "value", "line"),
    [
        ("JISO_PORT", "eighty", "JISO_PORT='eighty' is invalid (input should be a valid integer, unable to parse string as an integer): correct it or unset it for the default"),
        ("JISO_ALLOWED_ORIGINS", "https://app.example", 'JISO_ALLOWED_ORIGINS is not valid JSON: write it as JSON, e.g. JISO_ALLOWED_ORIGINS=\'["http://127.0.0.1:8000", "http://localhost:8000"]\''),
        ("JISO_SLACK_WORKSPACE_ORGS", "T1=acme", 'JISO_SLACK_WORKSPACE_ORGS is not valid JSON: write it as JSON, e.g. JISO_SLACK_WORKSPACE_ORGS=\'{"T0123ABCD": "acme"}\''),
        (
            "JISO_ESCALATION_RETRY_ATTEMPTS",
            "many",
            "JISO_ESCALATION_RETRY_ATTEMPTS='many' is invalid (input should be a valid integer, unable to parse string as an integer): correct it or unset it for the default",
        ),
    ],
)
def test_each_invalid_setting_names_its_variable(variable: str, value: str, line: str) -> None:
    result = CliRunner().invoke(app, ["lint"], env={variable: value})
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [line]


def test_two_invalid_settings_are_both_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JISO_TARGET_PRECISION", "high")
    monkeypatch.setenv("JISO_ASSUME_RESOLVED_AFTER", "soon")
    with pytest.raises(ValueError) as raised:
        load_settings()
    assert [line.split("=")[0] for line in raised.value.lines] == ["JISO_TARGET_PRECISION", "JISO_ASSUME_RESOLVED_AFTER"]


def test_jiso_serve_says_one_sentence_instead_of_a_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "JISO_ASSUME_RESOLVED_AFTER": "24 hours please", "JISO_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}"}
    result = subprocess.run([sys.executable, "-m", "api.cli", "serve", "--port", "1"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [DURATION_LINE]


def test_jiso_ask_without_an_index_says_so_in_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["ask", "How do I invite a teammate?"], env={"JISO_INDEX_DIR": str(tmp_path / "index")})
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"no index in {tmp_path / 'index'}: run `jiso index` first"]


@pytest.mark.parametrize(
    ("env", "line"),
    [
        (
            {"JISO_ESCALATION_WEBHOOK_URL": "https://hooks.example/jiso"},
            "JISO_ESCALATION_WEBHOOK_SECRET is empty: hand-overs to JISO_ESCALATION_WEBHOOK_URL are signed with it, so set one (a long random string your receiver also knows) or unset the URL",
        ),
        (
            {"JISO_ESCALATION_WEBHOOK_URL": "hooks.example/jiso", "JISO_ESCALATION_WEBHOOK_SECRET": "s"},
            "JISO_ESCALATION_WEBHOOK_URL is not an http(s) URL: write the full address hand-overs are posted to (https://…), or unset it",
        ),
        (
            {"JISO_SLACK_ESCALATION_CHANNEL": "C0123", "SLACK_BOT_TOKEN": ""},
            "JISO_SLACK_ESCALATION_CHANNEL is set but SLACK_BOT_TOKEN is empty: hand-overs cannot be posted to Slack; set the bot token (README › Connect Slack) or unset the channel",
        ),
    ],
)
def test_the_server_refuses_to_start_with_a_misconfigured_hand_over_destination(env: dict[str, str], line: str, tmp_path: Path) -> None:
    full = {**os.environ, "JISO_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}", **env}
    result = subprocess.run([sys.executable, "-m", "api.cli", "serve", "--port", "1"], cwd=ROOT, env=full, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [line]
    with pytest.raises(ValueError, match="JISO_"):  # and so does the app factory (uvicorn --factory api.app:create_app)
        from api.app import create_app

        create_app(Settings(escalation_webhook_url="https://hooks.example/jiso"))
