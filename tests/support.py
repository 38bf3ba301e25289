"""Test helpers shared by the suites: a small, indexed knowledge base; a hand-over webhook receiver."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from api import runtime
from api.settings import Settings
from bot.confidence import SIGNALS, Calibration, Logistic, calibration_file, calibration_text
from indexer.pipeline import index_knowledge

FAKE_THRESHOLDS = {"en": 0.5, "ja": 0.89}  # the fake embedder's cosines at which the suites expect answers


def write_knowledge(root: Path, files: Mapping[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def cosine_calibration(locale: str, model: str, answer_at: float, clarify_at: float | None = None) -> Calibration:
    """A calibration that answers exactly when the best entry's cosine reaches `answer_at` (and asks
    which entry is meant from `clarify_at`, if given): the fake embedder's stand-in for a fitted one."""
    steep = 200.0

    def at(cosine: float | None) -> Logistic:
        if cosine is None:
            return Logistic(-steep, (0.0,) * len(SIGNALS), ((0.5, True),))
        return Logistic(-steep * cosine, (steep,) + (0.0,) * (len(SIGNALS) - 1), ((0.5, True),))

    zeros, ones = (0.0,) * len(SIGNALS), (1.0,) * len(SIGNALS)
    return Calibration(locale, model, "test: cosine threshold", zeros, ones, at(answer_at), at(clarify_at))


def write_calibrations(directory: Path, model: str, thresholds: Mapping[str, float], clarify: Mapping[str, float] | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for locale, answer_at in thresholds.items():
        calibration = cosine_calibration(locale, model, answer_at, (clarify or {}).get(locale))
        calibration_file(directory, locale, model).write_text(calibration_text(calibration), encoding="utf-8")
    return directory


def indexed_settings(tmp_path: Path, files: Mapping[str, str] | None = None, **overrides) -> Settings:
    """Settings with the deterministic fake embedder over `files` written to tmp_path/knowledge
    (or over an existing `knowledge_dir`), indexed once."""
    knowledge = overrides.pop("knowledge_dir", None) or tmp_path / "knowledge"
    if files:
        write_knowledge(knowledge, files)
    settings = Settings(
        **{
            "model_en": "fake-hashing",
            "model_ja": "fake-hashing",
            "companion_model_en": "",
            "lexical_ja": "bigram",
            "calibration_dir": write_calibrations(tmp_path / f"calibrations-{uuid.uuid4().hex[:8]}", "fake-hashing", overrides.pop("answer_at", FAKE_THRESHOLDS), overrides.pop("clarify_at", None)),
            "knowledge_dir": knowledge,
            "index_dir": tmp_path / "index",
            "link_secret_file": tmp_path / "link-secret",
            **overrides,
        }
    )
    if not (settings.index_dir / "CURRENT").exists():
        index_knowledge(runtime.scan(settings), settings.index_dir, configs=runtime.locale_configs(settings), embedder_for=runtime.embedders(settings))
    return settings


@dataclass
class Receiver:
    """A real local webhook server: answers attempt n with statuses[n] (then 200); the first
    attempt is held until `release` is set."""

    statuses: list[int]
    release: threading.Event = field(default_factory=threading.Event)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""


@contextmanager
def webhook_receiver(statuses: list[int]) -> Iterator[Receiver]:
    state = Receiver(statuses=statuses)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            attempt = len(state.received)
            state.received.append((dict(self.headers), body))
            if attempt == 0:
                state.release.wait(timeout=60)
            status = state.statuses[attempt] if attempt < len(state.statuses) else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/jiso"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
