"""Who may read a transcript page: whoever holds the signed, unexpired link a hand-over carries,
or a manager key. Everyone else gets a plain 403 saying why; no response is cached, indexed or
leaks its address in a Referer."""

from __future__ import annotations

import json
import stat
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from bot.apikeys import create_key
from bot.identity import identity_hash
from bot.ledger.models import utcnow
from tests.support import webhook_receiver

from .knowledge import EN_QUESTION, IDENTITY_SECRET

pytestmark = pytest.mark.integration
PRIVATE = {"cache-control": "no-store", "x-robots-tag": "noindex", "referrer-policy": "no-referrer"}


def conversation_with_a_question(client: TestClient, org_id: str = "acme") -> str:
    user = {"id": "u-1", "org_id": org_id, "hash": identity_hash(IDENTITY_SECRET, "u-1", org_id)}
    conversation_id = client.post("/api/v1/conversations", json={"user": user, "locale": "en"}).json()["id"]
    client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": EN_QUESTION})
    return conversation_id


def page(client: TestClient, link: str, **headers: str) -> httpx.Response:
    parts = urlsplit(link)
    return client.get(f"{parts.path}?{parts.query}" if parts.query else parts.path, headers=headers)


def signed_link(client: TestClient, conversation_id: str, **kwargs) -> str:
    return client.app.state.transcript_links.link(conversation_id, **kwargs)


def assert_private(response: httpx.Response) -> None:
    assert {name: response.headers.get(name) for name in PRIVATE} == PRIVATE
    assert "script-src 'self'" in response.headers["content-security-policy"]


def test_the_link_in_a_hand_over_opens_the_transcript(make_client) -> None:
    with webhook_receiver([]) as receiver:
        receiver.release.set()
        client = make_client(escalation_webhook_url=receiver.url, escalation_webhook_secret="webhook-secret", escalation_retry_backoff=0.01)
        conversation_id = conversation_with_a_question(client)
        client.post(f"/api/v1/conversations/{conversation_id}/escalate", json={"reason": "needs a person"})
        client.app.state.dispatcher.drain()
    link = json.loads(receiver.received[-1][1])["link"]
    assert link.startswith(f"http://127.0.0.1:8000/conversations/{conversation_id}?expires=")
    expires = int(parse_qs(urlsplit(link).query)["expires"][0])
    assert abs(expires - (utcnow() + timedelta(days=30)).timestamp()) < 60  # JISO_LINK_VALID_FOR

    response = page(client, link)
    assert response.status_code == 200 and f'<p class="question">{EN_QUESTION}</p>' in response.text
    assert_private(response)


def test_a_tampered_link_is_403_and_says_why(client: TestClient) -> None:
    conversation_id = conversation_with_a_question(client)
    other_id = conversation_with_a_question(client)
    link = signed_link(client, conversation_id)
    query = parse_qs(urlsplit(link).query)
    sig, expires = query["sig"][0], int(query["expires"][0])
    tampered = [
        f"/conversations/{conversation_id}?expires={expires}&sig={sig[:-1]}{'0' if sig[-1] != '0' else '1'}",  # the signature
        f"/conversations/{conversation_id}?expires={expires + 86400}&sig={sig}",  # a longer life
        f"/conversations/{other_id}?expires={expires}&sig={sig}",  # another conversation
        f"/conversations/{conversation_id}?expires=soon&sig={sig}",
    ]
    for url in tampered:
        response = client.get(url)
        assert response.status_code == 403 and "signature does not match" in response.text, url
        assert EN_QUESTION not in response.text
        assert_private(response)


def test_an_expired_link_is_403_and_says_so(client: TestClient) -> None:
    conversation_id = conversation_with_a_question(client)
    response = page(client, signed_link(client, conversation_id, now=utcnow() - timedelta(days=31)))
    assert response.status_code == 403 and "This link has expired" in response.text and EN_QUESTION not in response.text
    assert_private(response)


def test_without_a_link_or_a_key_the_page_is_403(client: TestClient) -> None:
    conversation_id = conversation_with_a_question(client)
    for url in (f"/conversations/{conversation_id}", f"/conversations/{conversation_id}?expires=99999999999", f"/conversations/{'0' * 32}"):
        response = client.get(url)
        assert response.status_code == 403 and "signed link in a hand-over" in response.text
        assert_private(response)


def test_a_manager_key_opens_any_transcript_of_its_organizations(client: TestClient) -> None:
    conversation_id = conversation_with_a_question(client, org_id="acme")
    with Session(client.app.state.db) as session:
        manager = create_key(session=session, role="manager")[1]
        acme_manager = create_key(session=session, role="manager", org_id="acme")[1]
        other_manager = create_key(session=session, role="manager", org_id="globex")[1]
        ingest = create_key(session=session, role="ingest")[1]
    url = f"/conversations/{conversation_id}"
    for key in (manager, acme_manager):
        response = client.get(url, headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200 and EN_QUESTION in response.text
        assert_private(response)
    for key in (other_manager, ingest, "jiso_not-a-key"):
        response = client.get(url, headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 403 and "needs the manager role" in response.text and EN_QUESTION not in response.text


def test_unknown_and_malformed_ids_are_404_with_the_same_headers(client: TestClient) -> None:
    for conversation_id in ("0" * 32, "not-an-id", "x" * 40):
        response = page(client, signed_link(client, conversation_id))
        assert response.status_code == 404 and "There is no conversation with this id." in response.text
        assert_private(response)


def test_without_a_configured_secret_one_is_generated_once_and_kept(make_client, tmp_path) -> None:
    secret_file = tmp_path / "generated" / "link-secret"
    client = make_client(link_secret="", link_secret_file=secret_file)
    conversation_id = conversation_with_a_question(client)
    link = signed_link(client, conversation_id)
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600 and len(secret_file.read_text().strip()) == 64

    restarted = make_client(link_secret="", link_secret_file=secret_file)  # a restart reads the same key
    assert page(restarted, link).status_code == 200
    other_server = make_client(link_secret="another-servers-secret", link_secret_file=tmp_path / "unused")
    assert page(other_server, link).status_code == 403 and not (tmp_path / "unused").exists()
