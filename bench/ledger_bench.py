"""What the ledger benchmarks share (bench/reports_bench.py, bench/conversation_list_bench.py):
bulk loading seeded rows, timing a call, and running once per database on a scratch SQLite file
or a dedicated PostgreSQL schema (dropped afterwards), results written as JSON."""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bot.ledger.db import make_engine

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
STAMP = "%Y-%m-%d %H:%M:%S.%f"  # how SQLite stores the ledger's instants (UTC)
_STAMPED = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}")
Chunks = Iterable[tuple[str, tuple[str, ...], list[tuple]]]


def stamp(instant: datetime) -> str:
    return instant.strftime(STAMP)


def _sqlite_value(value: Any) -> Any:
    return stamp(value) if isinstance(value, datetime) else value


def _postgres_value(value: Any) -> Any:
    # A stamped string is a UTC instant: PostgreSQL's COPY needs the offset.
    return f"{value}+00" if isinstance(value, str) and _STAMPED.fullmatch(value) else value


def bulk_load(engine, dialect: str, chunks: Chunks) -> float:
    """Insert every (table, columns, rows) chunk (executemany on SQLite, COPY on PostgreSQL), then ANALYZE; seconds taken."""
    started = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for table, columns, rows in chunks:
            if dialect == "sqlite":
                placeholders = ", ".join("?" * len(columns))
                cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", [tuple(map(_sqlite_value, row)) for row in rows])
            else:
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row([_postgres_value(v) for v in row])
        raw.commit()
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - started


def timed(function: Callable[[], Any], repeats: int) -> dict:
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        runs.append(time.perf_counter() - started)
    return {"median_s": round(statistics.median(runs), 3), "runs_s": [round(r, 3) for r in runs]}


def run_on_each_database(databases: str, run: Callable[[str, str], dict], out: Path, *, keep_schema: str | None = None) -> None:
    """`run(url, dialect)` on each of `databases` ("sqlite,postgresql"), each on an empty ledger
    (PostgreSQL: in `keep_schema` instead, when given, created if missing and kept afterwards);
    prints one JSON line per database and writes every run to `out`."""
    results = {"machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()}, "command": " ".join(sys.argv), "runs": []}
    for dialect in databases.split(","):
        if dialect == "sqlite":
            with tempfile.TemporaryDirectory() as folder:
                outcome = run(f"sqlite:///{folder}/bench.db", "sqlite")
        else:
            schema = keep_schema or f"jiso_bench_{uuid.uuid4().hex[:8]}"
            admin = make_engine(POSTGRES_URL)
            with admin.begin() as connection:
                connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            try:
                outcome = run(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}", "postgresql")
            finally:
                if keep_schema is None:
                    with admin.begin() as connection:
                        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
        print(json.dumps(outcome), flush=True)
        results["runs"].append(outcome)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
