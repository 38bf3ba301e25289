"""`jiso slack` with a token Slack refuses, or a Slack it cannot reach: one line naming the setting, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app as cli

from .fake_slack import FakeSlack

pytestmark = pytest.mark.integration

BOT_TOKEN_LINE = "SLACK_BOT_TOKEN was refused by Slack (invalid_auth): use the Bot User OAuth Token (xoxb-…) from OAuth & Permissions, after installing the app"
APP_TOKEN_LINE = "SLACK_APP_TOKEN was refused by Slack (invalid_auth): use an app-level token (xapp-…) with connections:write, from Basic Information › App-Level Tokens"


def run_slack(tmp_path: Path, api_url: str) -> tuple[int, list[str]]:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-wrong",
        "SLACK_APP_TOKEN": "xapp-wrong",
        "JISO_SLACK_API_URL": api_url,
        "JISO_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
        "JISO_INDEX_DIR": str(tmp_path / "index"),
    }
    result = CliRunner().invoke(cli, ["slack"], env=env)
    return result.exit_code, result.stderr.splitlines()


@pytest.mark.parametrize(("method", "line"), [("auth.test", BOT_TOKEN_LINE), ("apps.connections.open", APP_TOKEN_LINE)])
def test_a_token_slack_refuses_is_named_in_one_line(fake_slack: FakeSlack, tmp_path: Path, method: str, line: str) -> None:
    fake_slack.errors[method] = "invalid_auth"
    assert run_slack(tmp_path, fake_slack.api_url) == (2, [line])


def test_an_unreachable_slack_is_named_in_one_line(tmp_path: Path) -> None:
    assert run_slack(tmp_path, "http://127.0.0.1:9/") == (
        2,
        ["cannot reach the Slack Web API at JISO_SLACK_API_URL=http://127.0.0.1:9/ ([Errno 111] Connection refused): check the address and the network, or unset it for https://slack.com/api/"],
    )


def test_a_server_that_is_not_slack_is_named_in_one_line(fake_slack: FakeSlack, tmp_path: Path) -> None:
    code, lines = run_slack(tmp_path, fake_slack.response_url("x") + "/")  # answers "ok" as plain text
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith(f"JISO_SLACK_API_URL={fake_slack.response_url('x')}/ does not answer like the Slack Web API")
