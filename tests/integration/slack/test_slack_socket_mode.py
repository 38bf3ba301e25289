"""Socket Mode (`jiso slack`): the app connects out over a WebSocket, acks envelopes and answers."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from api import runtime
from api.settings import Settings
from api.transcript_links import transcript_links
from bot.escalation import Dispatcher
from bot.ledger.db import make_engine

from .conftest import EN_QUESTION, all_text, event_body
from .fake_slack import BOT_USER_ID, TEAM_ID, FakeSlack

pytestmark = pytest.mark.integration


class FakeSocketModeServer:
    """Slack's side of a Socket Mode connection: says hello, sends envelopes, records acks."""

    def __init__(self, envelopes: list[dict[str, Any]]) -> None:
        self.envelopes = envelopes
        self.acks: list[dict[str, Any]] = []
        self._server: Server = serve(self._connection, "127.0.0.1", 0)
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-socket-mode", daemon=True)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}/link"

    def _connection(self, websocket: ServerConnection) -> None:
        websocket.send(json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"}, "debug_info": {}}))
        for envelope in self.envelopes:
            websocket.send(json.dumps(envelope))
        try:
            for message in websocket:
                self.acks.append(json.loads(message))
        except ConnectionClosed:  # the client hung up without a close frame: fine for a test server
            pass

    def __enter__(self) -> FakeSocketModeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()


@pytest.fixture
def socket_settings(slack_settings: Settings) -> Settings:
    return slack_settings.model_copy(update={"slack_signing_secret": "", "slack_app_token": "xapp-test"})


def test_socket_mode_acks_the_envelope_and_answers_in_the_thread(socket_settings: Settings, fake_slack: FakeSlack, database_url: str) -> None:
    event = {"type": "app_mention", "user": "U1", "text": f"<@{BOT_USER_ID}> {EN_QUESTION}", "ts": "1700000100.000100", "channel": "C1", "team": TEAM_ID}
    envelope = {"envelope_id": "env-1", "type": "events_api", "accepts_response_payload": False, "retry_attempt": 0, "retry_reason": "", "payload": event_body(event, "EvSocket")}
    engine = runtime.load_engine(socket_settings, runtime.embedders(socket_settings))
    database = make_engine(database_url)
    with FakeSocketModeServer([envelope]) as server:
        fake_slack.socket_mode_url = server.url
        dispatcher = runtime.hand_over_dispatcher(socket_settings, database, transcript_links(socket_settings))
        handler = runtime.slack_socket_mode(socket_settings, lambda: engine, database, dispatcher)
        handler.connect()
        try:
            [post] = fake_slack.wait_for(lambda: fake_slack.calls_to("chat.postMessage"))
            fake_slack.wait_for(lambda: server.acks)
        finally:
            handler.close()
            dispatcher.close()
    assert server.acks[0]["envelope_id"] == "env-1"
    [opened] = fake_slack.calls_to("apps.connections.open")
    assert opened.headers["Authorization"] == "Bearer xapp-test"
    assert post.body["thread_ts"] == "1700000100.000100" and "Invite members" in all_text(post.body)
    database.dispose()


def test_socket_mode_needs_the_app_token(slack_settings: Settings, database_url: str) -> None:
    database = make_engine(database_url)
    dispatcher = Dispatcher(database, [])
    with pytest.raises(ValueError, match="SLACK_APP_TOKEN"):
        runtime.slack_socket_mode(slack_settings.model_copy(update={"slack_app_token": ""}), lambda: None, database, dispatcher)
    dispatcher.close()
    database.dispose()
