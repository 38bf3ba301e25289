"""Database engines and migrations. SQLite runs in WAL mode with a busy timeout."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import create_engine

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 5000


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection, _record) -> None:  # noqa: ANN001
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL's usual setting: a commit is not fsynced (checkpoints are), so it costs ~0.03 ms
            # instead of an fsync taken while holding the write lock (~0.3–3 ms here, 3 per keyed
            # message). A killed server loses nothing; a power cut can lose the last commits.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    engine = create_engine(url, pool_pre_ping=True)

    @event.listens_for(engine, "connect")
    def _postgresql_settings(connection, _record) -> None:  # noqa: ANN001
        # No JIT: the reports' estimates are large enough to trigger it, and compiling took 430 of a
        # weekly report's 500 ms (EXPLAIN ANALYZE at 1M conversations); the ledger's queries are short.
        with connection.cursor() as cursor:
            cursor.execute("SET jit = off")
        connection.commit()  # else the pool's rollback on check-in would undo it

    return engine


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema to `revision` (idempotent: an up-to-date database is left as it is)."""
    make_engine(url).dispose()  # creates the SQLite folder if needed
    command.upgrade(alembic_config(url), revision)
