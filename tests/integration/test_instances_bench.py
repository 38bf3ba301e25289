"""docs/deploy.md's deployment, small: bench/instances.py with the hashing embedder (two real
`jiso serve` processes on PostgreSQL and Redis, one SIGKILLed mid-run) passes every check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def test_two_instances_one_killed_mid_run_pass_every_check(tmp_path: Path) -> None:
    out = tmp_path / "instances.json"
    command = [sys.executable, "bench/instances.py", "--sessions", "16", "--fake-embedder", "--out", str(out)]
    done = subprocess.run(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:] + done.stdout[-4000:]
    result = json.loads(out.read_text(encoding="utf-8"))
    assert [name for name, passed in result["checks"].items() if not passed] == []
    assert result["acknowledged"]["escalations"] == 8 and result["jiso_jobs"].startswith("pending=0 failed=0 ")
