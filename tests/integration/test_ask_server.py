"""`jiso ask` asks the running `jiso serve` when it serves the same index build (the models are
loaded there), and loads the index itself when there is no such server, or with --local."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app
from tests.web.knowledge import EN_QUESTION, build_settings

pytestmark = pytest.mark.integration
SERVED = "answered by the server at"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    settings = build_settings(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", port=free_port())
    for name in ("model_en", "model_ja", "companion_model_en", "calibration_dir", "index_dir", "knowledge_dir", "database_url", "port", "identity_secret", "link_secret_file"):
        monkeypatch.setenv(f"JISO_{name.upper()}", str(getattr(settings, name)))
    return settings


@pytest.fixture
def running(settings):
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=settings.port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while thread.is_alive() and not server.started:
        threading.Event().wait(0.05)
    yield server
    server.should_exit = True
    thread.join(timeout=30)


def ask(*options: str):
    result = CliRunner().invoke(app, ["ask", EN_QUESTION, *options])
    assert result.exit_code == 0, result.output
    return result


def test_the_running_server_answers_and_local_gives_the_same_answer(running) -> None:
    served = ask()
    assert served.stderr.startswith(f"{SERVED} http://127.0.0.1:{running.config.port} (same index")
    assert "Invite members" in served.stdout and "confidence" in served.stdout
    here = ask("--local")
    assert SERVED not in here.stderr and here.stdout == served.stdout
    assert ask("--json").stdout == ask("--json", "--local").stdout


def test_without_a_server_the_index_is_loaded_here(settings) -> None:
    result = ask()
    assert SERVED not in result.stderr and "Invite members" in result.stdout


def test_a_server_of_another_index_is_not_asked(settings, running, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = build_settings(tmp_path / "other", f"sqlite:///{tmp_path / 'other.db'}", knowledge_dir=settings.knowledge_dir)
    (settings.knowledge_dir / "en" / "faq" / "extra.md").write_text("---\ntitle: Extra\nowner: cs@x\nreviewed: 2026-10-01\n---\n\n## Is there more?\n<!--\nid: extra\n-->\n\nYes.\n")
    monkeypatch.setenv("JISO_INDEX_DIR", str(other.index_dir))
    assert CliRunner().invoke(app, ["index", "--quiet"]).exit_code == 0  # now that index differs from the server's
    result = ask()
    assert SERVED not in result.stderr and "Invite members" in result.stdout
