"""Throughput and latency of a real `jiso serve` on SQLite: `POST /api/v1/ask` (answers, records
nothing) and `POST /api/v1/conversations/{id}/messages` (answers and records the turn), with 1, 4
and 16 requests in flight.

    python bench/serving_bench.py                                  # this checkout
    python bench/serving_bench.py --baseline 69c7199 --repeats 3   # and a commit, in the same run

A `--baseline` is a commit (exported with `git archive` into a scratch folder) or another checkout;
it may be given several times. Each checkout indexes the sample knowledge into its own scratch
folder and runs `jiso serve` (one process, the default SQLite ledger) on a free local port; all
servers stay up and every repeat measures each of them in turn, so a change of load on a shared
machine reaches every checkout alike. A row sends the English and Japanese development questions,
in a fixed order, `--rounds` times. A message goes to a conversation of its own, opened before the
clock starts, with an `Idempotency-Key` as the widget sends it; after the run the ledger must hold
exactly one turn per acknowledged message. The floor is the in-process time of embedding one
question with the models a locale's answer embeds it with (what no server can beat).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SETS = ("en-onboarding", "ja-onboarding")
CONCURRENCY = (1, 4, 16)
ROUTES = ("ask", "messages")


@dataclass
class Server:
    label: str
    checkout: Path
    scratch: Path
    process: subprocess.Popen | None = None
    url: str = ""
    messages: int = 0  # acknowledged by the server: the ledger must hold exactly this many turns


def questions() -> list[str]:
    texts = []
    for name in SETS:
        for line in (ROOT / "bench" / "datasets" / name / "queries.jsonl").read_text(encoding="utf-8").splitlines():
            texts.append(json.loads(line)["text"])
    return texts


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def checkout_of(reference: str, scratch: Path) -> tuple[str, Path]:
    """A directory as it is, or a commit exported from this repository into `scratch`."""
    if Path(reference).is_dir():
        return reference, Path(reference).resolve()
    commit = subprocess.run(["git", "rev-parse", "--short", reference], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()
    target = scratch / f"src-{commit}"
    target.mkdir()
    archive = subprocess.run(["git", "archive", commit], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return commit, target


def server_env(server: Server, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(server.checkout),  # this checkout's code, not whatever is installed
        "HF_HUB_OFFLINE": "1",
        "JISO_INDEX_DIR": str(server.scratch / "index"),
        "JISO_DATABASE_URL": f"sqlite:///{server.scratch / 'ledger.db'}",
        "JISO_RATE_LIMIT_PER_IP": "1000000/minute",
        "JISO_RATE_LIMIT_PER_VISITOR": "1000000/minute",
        "JISO_PORT": str(port),
    }


def start(server: Server) -> None:
    server.scratch.mkdir()
    port = free_port()
    env = server_env(server, port)
    subprocess.run([PYTHON, "-m", "api.cli", "index", "--quiet"], cwd=server.checkout, env=env, check=True, capture_output=True)
    log = (server.scratch / "server.log").open("w")
    server.process = subprocess.Popen([PYTHON, "-m", "api.cli", "serve"], cwd=server.checkout, env=env, stdout=log, stderr=subprocess.STDOUT)
    server.url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{server.url}/health", timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.5)
    raise SystemExit(f"{server.label}: the server did not start within 300 s (see {server.scratch / 'server.log'})")


def stop(server: Server) -> None:
    if server.process is not None:
        server.process.terminate()
        server.process.wait(30)


def open_conversations(client: httpx.Client, count: int) -> list[str]:
    def one(_: int) -> str:
        response = client.post("/api/v1/conversations", json={"locale": None})
        response.raise_for_status()
        return response.json()["id"]

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(one, range(count)))


def measure(server: Server, route: str, texts: list[str], concurrency: int, rounds: int) -> dict:
    with httpx.Client(base_url=server.url, timeout=60, limits=httpx.Limits(max_connections=32)) as client:
        work = [text for _ in range(rounds) for text in texts]
        if route == "ask":
            requests: list[Callable[[], httpx.Response]] = [lambda text=text: client.post("/api/v1/ask", json={"question": text}) for text in work]
        else:
            conversations = open_conversations(client, len(work))
            requests = [
                lambda text=text, conversation=conversation: client.post(f"/api/v1/conversations/{conversation}/messages", json={"text": text}, headers={"Idempotency-Key": uuid.uuid4().hex})
                for text, conversation in zip(work, conversations, strict=True)
            ]

        def timed(request: Callable[[], httpx.Response]) -> float:
            started = time.perf_counter()
            response = request()
            response.raise_for_status()
            return (time.perf_counter() - started) * 1000

        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            latencies = list(pool.map(timed, requests))
        elapsed = time.perf_counter() - started
    if route == "messages":
        server.messages += len(latencies)
    return {"requests": len(latencies), "per_s": len(latencies) / elapsed, "p50_ms": statistics.median(latencies), "p95_ms": percentile(latencies, 0.95)}


def warm_up(server: Server, texts: list[str]) -> None:
    for route in ROUTES:
        measure(server, route, texts[:10] + texts[-10:], 1, 1)


def turns_recorded(server: Server) -> int:
    with sqlite3.connect(server.scratch / "ledger.db") as db:
        return db.execute("SELECT count(*) FROM turns").fetchone()[0]


def encode_floor() -> dict[str, float]:
    """Median in-process time to embed one question with each model a locale's answer uses."""
    sys.path.insert(0, str(ROOT))
    from api import runtime
    from api.settings import Settings
    from indexer.embedder import companion_key

    settings = Settings()
    embedders = runtime.embedders(settings)
    floors = {}
    for locale, name in (("en", SETS[0]), ("ja", SETS[1])):
        sample = [json.loads(line)["text"] for line in (ROOT / "bench" / "datasets" / name / "queries.jsonl").read_text(encoding="utf-8").splitlines()][:100]
        models = [embedders(locale)] + ([embedders(companion_key(locale))] if settings.companion_for(locale) else [])
        for model in models:
            model.embed_queries(sample[:5])
        times = []
        for text in sample:
            started = time.perf_counter()
            for model in models:
                model.embed_queries([text])
            times.append((time.perf_counter() - started) * 1000)
        floors[locale] = statistics.median(times)
    return floors


def summary(rows: list[dict], servers: list[Server]) -> list[dict]:
    """Per server, route and concurrency: the median over repeats of each figure."""
    medians = []
    for server in servers:
        for route in ROUTES:
            for concurrency in CONCURRENCY:
                runs = [row for row in rows if (row["server"], row["route"], row["concurrency"]) == (server.label, route, concurrency)]
                medians.append(
                    {
                        "server": server.label,
                        "route": route,
                        "concurrency": concurrency,
                        **{figure: statistics.median(run[figure] for run in runs) for figure in ("per_s", "p50_ms", "p95_ms")},
                        "per_s_runs": [round(run["per_s"], 1) for run in runs],
                    }
                )
    return medians


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", action="append", default=[], help="a commit or another checkout, measured in the same run (repeatable)")
    parser.add_argument("--rounds", type=int, default=2, help="times each row sends every question")
    parser.add_argument("--repeats", type=int, default=3, help="times every row is measured; the tables show the median")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "serving.json")
    args = parser.parse_args()
    texts = questions()
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="jiso-serving-") as scratch_dir:
        scratch = Path(scratch_dir)
        servers = [Server(f"this checkout ({head})", ROOT, scratch / "this")]
        for number, reference in enumerate(args.baseline):
            label, checkout = checkout_of(reference, scratch)
            servers.append(Server(label, checkout, scratch / f"baseline-{number}"))
        rows: list[dict] = []
        loads = [os.getloadavg()]
        try:
            for server in servers:
                print(f"indexing and starting {server.label}", file=sys.stderr)
                start(server)
            for repeat in range(args.repeats):
                for server in servers:
                    warm_up(server, texts)  # a server left idle has had its cold pages reclaimed meanwhile
                    for route in ROUTES:
                        for concurrency in CONCURRENCY:
                            row = {"repeat": repeat, "server": server.label, "route": route, "concurrency": concurrency, **measure(server, route, texts, concurrency, args.rounds)}
                            print(json.dumps(row), file=sys.stderr)
                            rows.append(row)
                loads.append(os.getloadavg())
            for server in servers:
                recorded = turns_recorded(server)
                if recorded != server.messages:
                    raise SystemExit(f"{server.label}: {server.messages} messages acknowledged, {recorded} turns recorded")
        finally:
            for server in servers:
                stop(server)
    floors = encode_floor()
    medians = summary(rows, servers)
    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average_1min": [round(load[0], 2) for load in loads],
        "questions": len(texts),
        "rounds": args.rounds,
        "repeats": args.repeats,
        "encode_floor_ms": floors,
        "medians": medians,
        "runs": rows,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"{len(texts)} questions (English and Japanese development sets) × {args.rounds} rounds per row, median of {args.repeats} repeats")
    print(f"load average (1 min) before and after each repeat: {', '.join(f'{load[0]:.1f}' for load in loads)}\n")
    print("| server | route | in flight | requests/s | p50 ms | p95 ms | requests/s, each repeat |\n|---|---|---|---|---|---|---|")
    for row in medians:
        runs = " · ".join(f"{value:.0f}" for value in row["per_s_runs"])
        print(f"| {row['server']} | {row['route']} | {row['concurrency']} | {row['per_s']:.0f} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} | {runs} |")
    print("\n/messages throughput ÷ /ask throughput, same server:")
    for server in servers:
        ratios = []
        for concurrency in CONCURRENCY:
            per_s = {row["route"]: row["per_s"] for row in medians if row["server"] == server.label and row["concurrency"] == concurrency}
            ratios.append(f"{concurrency} in flight {per_s['messages'] / per_s['ask']:.2f}×")
        print(f"- {server.label}: {', '.join(ratios)}")
    print("\nIn-process embedding of one question (median, the floor): " + ", ".join(f"{locale} {ms:.1f} ms" for locale, ms in floors.items()))


if __name__ == "__main__":
    main()
