from __future__ import annotations

from alembic import context
from sqlalchemy import event
from sqlmodel import SQLModel

from bot.ledger import models  # noqa: F401  (registers the tables)
from bot.ledger.db import make_engine

target_metadata = SQLModel.metadata


def run_migrations() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    engine = make_engine(url)
    sqlite = engine.dialect.name == "sqlite"
    if sqlite:
        # The whole upgrade in one write transaction, as on PostgreSQL: the sqlite3 module would
        # commit each DDL statement on its own, so an instance writing between a migration's
        # triggers and its backfill would be counted twice or break it. Writers wait (busy timeout).
        @event.listens_for(engine, "connect")
        def _no_implicit_transactions(dbapi_connection, _record) -> None:  # noqa: ANN001
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _take_the_write_lock(connection) -> None:  # noqa: ANN001
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=sqlite, transactional_ddl=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
