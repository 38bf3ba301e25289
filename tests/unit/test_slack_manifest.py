"""The shipped Slack manifests ask for exactly what the code uses, and the README says the same."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.channels.slack import COMMAND

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
SCOPES = ["app_mentions:read", "chat:write", "commands", "im:history", "channels:history", "groups:history"]
EVENTS = ["app_mention", "message.im", "message.channels", "message.groups"]


@pytest.mark.parametrize(("name", "socket_mode"), [("manifest.yml", False), ("manifest.socket-mode.yml", True)])
def test_manifest_matches_the_code(name: str, socket_mode: bool) -> None:
    manifest = yaml.safe_load((ROOT / "slack" / name).read_text(encoding="utf-8"))
    assert manifest["oauth_config"]["scopes"]["bot"] == SCOPES
    settings = manifest["settings"]
    assert settings["event_subscriptions"]["bot_events"] == EVENTS
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is socket_mode
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == COMMAND
    urls = [settings["event_subscriptions"].get("request_url"), settings["interactivity"].get("request_url"), command.get("url")]
    assert urls == ([None] * 3 if socket_mode else ["https://jiso.example.com/slack/events"] * 3)


def test_readme_lists_the_same_scopes_and_events() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Connect Slack", 1)[1].split("\n## ", 1)[0]
    for name in SCOPES + EVENTS:
        assert f"`{name}`" in section
