"""What the CLI prints for a person: indexing progress as a bar on a terminal and as plain lines
in a log, and no library chatter (alembic's INFO lines) around what a command prints."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from api.progress import IndexProgress

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def test_plain_lines_at_each_tenth_when_not_a_terminal() -> None:
    log = io.StringIO()
    progress = IndexProgress(log)
    for done in range(0, 1595, 64):  # batches of 64 passages, as the pipeline reports them
        progress("embedding en", done, 1595)
    progress("embedding en", 1595, 1595)
    progress("embedding ja", 3, 3)
    lines = log.getvalue().splitlines()
    assert lines[0] == "embedding en: 192/1595 (12%)" and lines[-2:] == ["embedding en: 1595/1595 (100%)", "embedding ja: 3/3 (100%)"]
    assert len(lines) == 11 and "\r" not in log.getvalue()


def test_a_progress_bar_on_a_terminal() -> None:
    terminal = io.StringIO()
    progress = IndexProgress(terminal, bar=True)
    for done in (64, 128, 200):
        progress("embedding en", done, 200)
    progress.close()
    drawn = terminal.getvalue()
    assert "embedding en" in drawn and "200/200" in drawn and "100%" in drawn and "\r" in drawn


def test_keys_create_prints_the_secret_without_alembic_lines(tmp_path: Path) -> None:
    env = {**os.environ, "JISO_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "api.cli", "keys", "create", "--role", "manager"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("jiso_") and len(done.stdout.splitlines()) == 1  # the secret, alone on stdout
    assert done.stderr.splitlines() == [done.stderr.splitlines()[0]] and done.stderr.startswith("key ")  # one line, no "INFO alembic…"


def test_calibrate_refuses_an_out_that_is_a_file_before_fitting(tmp_path: Path) -> None:
    taken = tmp_path / "en.json"
    taken.write_text("{}", encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    dataset = ROOT / "tests" / "fixtures" / "beir-tiny"
    done = subprocess.run([sys.executable, "-m", "api.cli", "calibrate", str(dataset), "--locale", "en", "--out", str(taken)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == f"--out {taken}: not a folder (the calibration is written into a folder, named for its locale and model)"
    assert taken.read_text(encoding="utf-8") == "{}"  # untouched
