"""A real uvicorn on a free port and Debian's headless Chromium driven by Playwright."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import uvicorn
from fastapi import FastAPI

from api.app import create_app
from api.settings import Settings


@dataclass
class LiveServer:
    url: str
    settings: Settings
    app: object


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def live_server() -> Iterator[Callable[[Settings], LiveServer]]:
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(settings: Settings, prepare: Callable[[FastAPI], None] | None = None) -> LiveServer:
        port = _free_port()
        app = create_app(settings)
        if prepare is not None:
            prepare(app)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        started = threading.Event()
        while thread.is_alive() and not server.started:
            started.wait(0.05)
        if not server.started:
            raise RuntimeError("uvicorn did not start")
        return LiveServer(f"http://127.0.0.1:{port}", settings, app)

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def console_errors() -> list[str]:
    return []


@pytest.fixture
def open_page(browser, console_errors: list[str]):
    """A fresh browser context per page; console errors, page errors and dialogs are collected."""
    contexts = []

    def make(url: str, **context_options):
        context = browser.new_context(**context_options)
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: console_errors.append(f"page error: {error}"))
        page.on("dialog", lambda dialog: (console_errors.append(f"dialog: {dialog.message}"), dialog.dismiss()))
        page.goto(url)
        return page

    yield make
    for context in contexts:
        context.close()
