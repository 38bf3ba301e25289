"""A closed hand-over with a person's reply becomes a FAQ draft; writers list it, accept it into a
markdown file that passes `jiso lint`, or reject it; duplicates of entries are never proposed."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session
from typer.testing import CliRunner

from api.cli import app as cli
from bot.apikeys import create_key

from .knowledge import EN_QUESTION, UNKNOWN_QUESTION

pytestmark = pytest.mark.integration
ADMIN = {"Authorization": "Bearer admin-key"}
REPLY = "Bread baking is not supported.\n\n## Roadmap\nWe noted your interest: see <!-- the roadmap -->."


def agent(client: TestClient) -> dict[str, str]:
    with Session(client.app.state.db) as session:
        _, secret = create_key(session=session, role="agent")
    return {"Authorization": f"Bearer {secret}"}


def hand_over(client: TestClient, questions: list[str], reply: str | None, headers: dict[str, str]) -> str:
    conversation_id = client.post("/api/v1/conversations", json={"locale": "en"}).json()["id"]
    for question in questions:
        client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": question})
    client.post(f"/api/v1/conversations/{conversation_id}/escalate", json={"reason": "needs a person"})
    if reply:
        assert client.post(f"/api/v1/conversations/{conversation_id}/replies", json={"text": reply}, headers=headers).status_code == 201
    assert client.post(f"/api/v1/conversations/{conversation_id}/close", headers=headers).status_code == 200
    return conversation_id


def cli_env(client: TestClient) -> dict[str, str]:
    settings = client.app.state.settings
    return {"JISO_DATABASE_URL": settings.database_url, "JISO_KNOWLEDGE_DIR": str(settings.knowledge_dir), "JISO_INDEX_DIR": str(settings.index_dir)}


def test_a_persons_answer_becomes_a_draft_that_writers_accept_into_the_knowledge(make_client) -> None:
    client = make_client(admin_api_key="admin-key")
    headers = agent(client)
    rephrased = "Does the flux capacitor do bread?"
    elsewhere = client.post("/api/v1/conversations", json={"locale": "en"}).json()["id"]
    for question in ("Could the flux capacitor bake bread on Tuesday?", "Where do I change my billing email?"):  # other users' gaps
        client.post(f"/api/v1/conversations/{elsewhere}/messages", json={"text": question, "new_question": True})
    conversation_id = hand_over(client, [rephrased, UNKNOWN_QUESTION], REPLY, headers)
    hand_over(client, [UNKNOWN_QUESTION + " "], "Same answer.", headers)  # the same question again: no second draft
    hand_over(client, [EN_QUESTION], "Settings › Members.", headers)  # an entry answers it already: no draft
    hand_over(client, ["Where is my pony?"], None, headers)  # closed without a person's reply: no draft

    [draft] = client.get("/api/v1/drafts", headers=ADMIN).json()["drafts"]
    assert (draft["question"], draft["answer"], draft["locale"], draft["conversation_id"]) == (UNKNOWN_QUESTION, REPLY, "en", conversation_id)
    assert draft["alternatives"] == [rephrased, "Could the flux capacitor bake bread on Tuesday?"]  # the user's other wording, then a similar gap
    assert client.get("/api/v1/drafts").status_code == 401
    assert client.get("/api/v1/drafts", headers=headers).status_code == 403  # an agent key

    env = cli_env(client)
    listed = CliRunner().invoke(cli, ["drafts", "list"], env=env)
    assert listed.exit_code == 0 and draft["id"] in listed.stdout and UNKNOWN_QUESTION in listed.stdout
    outside = CliRunner().invoke(cli, ["drafts", "accept", draft["id"], "--file", "../elsewhere.md"], env=env)
    assert outside.exit_code == 1 and "inside the knowledge folder" in outside.stderr
    manual = next(path for path in client.app.state.settings.knowledge_dir.rglob("*.md") if "/manual/" in path.as_posix() or "/ja/" in path.as_posix())
    wrong_kind = CliRunner().invoke(cli, ["drafts", "accept", draft["id"], "--file", str(manual)], env=env)
    assert wrong_kind.exit_code == 1 and "write this en draft into an FAQ file of that locale" in wrong_kind.stderr
    accepted = CliRunner().invoke(cli, ["drafts", "accept", draft["id"]], env=env)
    assert accepted.exit_code == 0, accepted.output
    written = client.app.state.settings.knowledge_dir / "en/faq/answers-from-hand-overs.md"
    text = written.read_text(encoding="utf-8")
    assert f"## {UNKNOWN_QUESTION}\n<!--\nid: can-the-quantum-flux-capacitor-bake-bread-on-tuesdays\nalso:\n  - {rephrased}\n  - Could the flux capacitor bake bread on Tuesday?\n-->" in text
    assert "\\## Roadmap" in text and "\\We noted" not in text  # the person's heading stays inside the answer
    lint = CliRunner().invoke(cli, ["lint"], env=env)
    assert lint.exit_code == 0, lint.output
    assert "0 problem(s)" in lint.stderr
    again = CliRunner().invoke(cli, ["drafts", "accept", draft["id"]], env=env)
    assert again.exit_code == 1 and "was accepted already" in again.stderr
    assert client.get("/api/v1/drafts", headers=ADMIN).json()["drafts"] == []


def test_a_rejected_draft_is_not_proposed_again(make_client) -> None:
    client = make_client(admin_api_key="admin-key")
    headers = agent(client)
    hand_over(client, ["Where is my pony?"], "We have no ponies.", headers)
    [draft] = client.get("/api/v1/drafts", headers=ADMIN).json()["drafts"]
    rejected = CliRunner().invoke(cli, ["drafts", "reject", draft["id"]], env=cli_env(client))
    assert rejected.exit_code == 0 and "rejected draft" in rejected.stdout
    hand_over(client, ["where is my pony"], "Still no ponies.", headers)
    assert client.get("/api/v1/drafts", headers=ADMIN).json()["drafts"] == []
    unknown = CliRunner().invoke(cli, ["drafts", "reject", "nope"], env=cli_env(client))
    assert unknown.exit_code == 1 and "no draft 'nope'" in unknown.stderr
