"""Latency of `POST /api/v1/ask` against a real server, at 1 and 4 requests in flight.

    python bench/serving_bench.py                      # this checkout
    python bench/serving_bench.py --baseline ../old    # and another checkout, measured in the same run

Each checkout indexes the sample knowledge into its own scratch folder, then runs its own server
(uvicorn, one process) on a free local port; the questions are the English and Japanese
development questions, in a fixed order, each round sending every question once. The floor is
the in-process time of embedding one question with each locale's model (what no server can beat).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SETS = ("en-onboarding", "ja-onboarding")


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


def serve(checkout: Path, scratch: Path) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "JISO_INDEX_DIR": str(scratch / "index"), "JISO_DATABASE_URL": f"sqlite:///{scratch / 'ledger.db'}", "JISO_RATE_LIMIT_PER_IP": "100000/minute"}
    subprocess.run([PYTHON, "-m", "api.cli", "index", "--quiet"], cwd=checkout, env=env, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen([PYTHON, "-m", "uvicorn", "api.app:create_app", "--factory", "--port", str(port), "--log-level", "warning"], cwd=checkout, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code < 500:
                return server, url
        except httpx.HTTPError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit(f"{checkout}: the server did not start within 300 s")


def measure(url: str, texts: list[str], concurrency: int, rounds: int) -> dict:
    with httpx.Client(base_url=url, timeout=30) as client:

        def one(text: str) -> float:
            started = time.perf_counter()
            response = client.post("/api/v1/ask", json={"question": text})
            response.raise_for_status()
            return (time.perf_counter() - started) * 1000

        for text in texts[:20]:  # warm-up
            one(text)
        latencies: list[float] = []
        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            for _ in range(rounds):
                latencies.extend(pool.map(one, texts))
        elapsed = time.perf_counter() - started
    return {"p50_ms": statistics.median(latencies), "p95_ms": percentile(latencies, 0.95), "answers_per_s": len(latencies) / elapsed}


def encode_floor(texts: list[str]) -> dict[str, float]:
    """Median in-process time to embed one question, per locale's default model."""
    sys.path.insert(0, str(ROOT))
    from api import runtime
    from api.settings import Settings

    settings = Settings()
    embedders = runtime.embedders(settings)
    floors = {}
    for locale, name in (("en", SETS[0]), ("ja", SETS[1])):
        sample = [json.loads(line)["text"] for line in (ROOT / "bench" / "datasets" / name / "queries.jsonl").read_text(encoding="utf-8").splitlines()][:100]
        embedder = embedders(locale)
        embedder.embed_queries(sample[:5])
        times = []
        for text in sample:
            started = time.perf_counter()
            embedder.embed_queries([text])
            times.append((time.perf_counter() - started) * 1000)
        floors[locale] = statistics.median(times)
    return floors


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", type=Path, help="another checkout of jiso to measure in the same run")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    texts = questions()
    checkouts = [("this checkout", ROOT)] + ([("baseline", args.baseline.resolve())] if args.baseline else [])
    rows = []
    for label, checkout in checkouts:
        with tempfile.TemporaryDirectory(prefix="jiso-serving-") as scratch:
            server, url = serve(checkout, Path(scratch))
            try:
                for concurrency in (1, 4):
                    rows.append((label, concurrency, measure(url, texts, concurrency, args.rounds)))
            finally:
                server.terminate()
                server.wait(30)
    floors = encode_floor(texts)
    print(f"{len(texts)} questions (English and Japanese development sets) × {args.rounds} rounds per row\n")
    print("| server | in flight | p50 ms | p95 ms | answers/s |\n|---|---|---|---|---|")
    for label, concurrency, row in rows:
        print(f"| {label} | {concurrency} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} | {row['answers_per_s']:.0f} |")
    print("\nIn-process embedding of one question (median, the floor): " + ", ".join(f"{locale} {ms:.1f} ms" for locale, ms in floors.items()))


if __name__ == "__main__":
    main()
