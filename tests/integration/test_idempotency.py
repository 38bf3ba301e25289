"""Idempotency keys in the ledger: one reservation wins, even under concurrent deliveries."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlmodel import Session

from bot.ledger import idempotency

pytestmark = pytest.mark.integration
SCOPE = "POST /api/v1/conversations/x/messages"


def test_reserve_complete_replay_and_release(db_engine) -> None:
    with Session(db_engine) as session:
        digest = idempotency.request_hash({"text": "hi"})
        assert idempotency.reserve(session=session, scope=SCOPE, key="k", payload_hash=digest) is None
        assert idempotency.reserve(session=session, scope=SCOPE, key="k", payload_hash=digest) == idempotency.Stored(idempotency.IN_PROGRESS, {}, True)
        idempotency.complete(session=session, scope=SCOPE, key="k", status_code=200, body={"turn_id": "t"})
        assert idempotency.reserve(session=session, scope=SCOPE, key="k", payload_hash=digest) == idempotency.Stored(200, {"turn_id": "t"}, True)
        assert idempotency.reserve(session=session, scope=SCOPE, key="k", payload_hash=idempotency.request_hash({"text": "other"})).same_request is False
        idempotency.release(session=session, scope=SCOPE, key="k")  # a completed response is kept
        assert idempotency.reserve(session=session, scope=SCOPE, key="k", payload_hash=digest).status_code == 200

        assert idempotency.reserve(session=session, scope=SCOPE, key="failed", payload_hash=digest) is None
        idempotency.release(session=session, scope=SCOPE, key="failed")  # the request failed: a retry may run
        assert idempotency.reserve(session=session, scope=SCOPE, key="failed", payload_hash=digest) is None


def test_concurrent_deliveries_of_one_key_reserve_it_once(db_engine) -> None:
    digest = idempotency.request_hash({"text": "hi"})

    def deliver(_: int) -> bool:
        with Session(db_engine) as session:
            return idempotency.reserve(session=session, scope=SCOPE, key="race", payload_hash=digest) is None

    with ThreadPoolExecutor(max_workers=8) as pool:
        winners = list(pool.map(deliver, range(16)))
    assert winners.count(True) == 1
