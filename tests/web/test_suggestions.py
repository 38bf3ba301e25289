"""Learning from use, with writers in control: confirmed questions become suggested phrasings,
applied to the markdown only when a writer accepts them."""

from __future__ import annotations

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from api.cli import app as cli
from bot.ledger.db import make_engine
from bot.suggestions import decide, suggestions
from indexer.content import scan_knowledge

from .knowledge import EN_QUESTION
from .test_chat_api import API, ask, start
from .test_clarify import ALWAYS_ASK, NEVER_SURE

pytestmark = pytest.mark.integration
ASKED = "how to get my coworker: into our workspace"  # a colon: the phrasing must be quoted in YAML


def picked(client, text: str, entry_id: str) -> None:
    conversation_id = start(client)
    reply = ask(client, conversation_id, text)
    assert client.post(f"{API}/{conversation_id}/choose", json={"turn_id": reply["turn_id"], "entry_id": entry_id}).status_code == 200


def test_a_picked_entry_suggests_the_question_and_accepting_writes_it_into_the_markdown(make_client, database_url, tmp_path) -> None:
    client = make_client(answer_at=NEVER_SURE, clarify_at=ALWAYS_ASK, admin_api_key="admin-key")
    picked(client, ASKED, "invite-member")
    picked(client, ASKED.upper(), "invite-member")  # the same phrasing, however it is typed
    picked(client, EN_QUESTION, "invite-member")  # already the entry's own question: no suggestion

    report = client.get("/api/v1/reports/suggestions", headers={"Authorization": "Bearer admin-key"})
    assert report.status_code == 200, report.text
    [suggestion] = report.json()["suggestions"]
    assert (suggestion["entry_id"], suggestion["phrasing"], suggestion["confirmations"]) == ("invite-member", ASKED, 2)

    knowledge = tmp_path / "knowledge"
    database = make_engine(database_url)
    with Session(database) as session:
        entries = scan_knowledge(knowledge).entries
        decide(session, knowledge, entries, entry_id="invite-member", phrasing=ASKED, accept=True)
        rescanned = scan_knowledge(knowledge)
        assert not rescanned.problems  # lint-clean
        entry = next(e for e in rescanned.entries if e.id == "invite-member")
        assert entry.alternatives == ("How can I add a colleague?", ASKED)
        assert suggestions(session, rescanned.entries) == []  # accepted: no longer open
    database.dispose()


def test_a_rejected_suggestion_is_not_offered_again_and_the_cli_lists_them(make_client, database_url, tmp_path, monkeypatch) -> None:
    client = make_client(answer_at=NEVER_SURE, clarify_at=ALWAYS_ASK)
    picked(client, "invite teammate pls", "invite-member")
    picked(client, "teammate invite how", "invite-member")
    knowledge = tmp_path / "knowledge"
    before = (knowledge / "en/faq/members.md").read_text(encoding="utf-8")
    monkeypatch.setenv("JISO_DATABASE_URL", database_url)
    monkeypatch.setenv("JISO_KNOWLEDGE_DIR", str(knowledge))
    runner = CliRunner()
    listed = runner.invoke(cli, ["suggestions"])
    assert listed.exit_code == 0 and "invite teammate pls" in listed.stdout and "teammate invite how" in listed.stdout
    rejected = runner.invoke(cli, ["suggestions", "reject", "invite-member", "invite teammate pls"])
    assert rejected.exit_code == 0, rejected.output
    assert (knowledge / "en/faq/members.md").read_text(encoding="utf-8") == before  # a rejection writes nothing
    assert "invite teammate pls" not in runner.invoke(cli, ["suggestions"]).stdout
    unknown = runner.invoke(cli, ["suggestions", "accept", "invite-member", "never asked"])
    assert unknown.exit_code == 1 and "no open suggestion" in unknown.output
