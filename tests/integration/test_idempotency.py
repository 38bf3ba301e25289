"""Idempotency keys in the ledger: one reservation wins, even under concurrent deliveries."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from bot.ledger import idempotency
from bot.ledger.models import IdempotentResponse, utcnow

pytestmark = pytest.mark.integration
SCOPE = "POST /api/v1/conversations/x/messages"
LEASE = timedelta(seconds=30)


def test_reserve_complete_replay_and_release(db_engine) -> None:
    with Session(db_engine) as session:
        digest = idempotency.request_hash({"text": "hi"})
        assert idempotency.reserve(session=session, scope=SCOPE, key="k", payload_hash=digest, lease=LEASE) is None
        assert idempotency.reserve(session=session, scope=SCOPE, key="k", payload_hash=digest, lease=LEASE) == idempotency.Stored(idempotency.IN_PROGRESS, {}, True)
        idempotency.complete(session=session, scope=SCOPE, key="k", status_code=200, body={"turn_id": "t"})
        assert idempotency.reserve(session=session, scope=SCOPE, key="k", payload_hash=digest, lease=LEASE) == idempotency.Stored(200, {"turn_id": "t"}, True)
        assert idempotency.reserve(session=session, scope=SCOPE, key="k", payload_hash=idempotency.request_hash({"text": "other"}), lease=LEASE).same_request is False
        idempotency.release(session=session, scope=SCOPE, key="k")  # a completed response is kept
        assert idempotency.reserve(session=session, scope=SCOPE, key="k", payload_hash=digest, lease=LEASE).status_code == 200

        assert idempotency.reserve(session=session, scope=SCOPE, key="failed", payload_hash=digest, lease=LEASE) is None
        idempotency.release(session=session, scope=SCOPE, key="failed")  # the request failed: a retry may run
        assert idempotency.reserve(session=session, scope=SCOPE, key="failed", payload_hash=digest, lease=LEASE) is None


def test_concurrent_deliveries_of_one_key_reserve_it_once(db_engine) -> None:
    digest = idempotency.request_hash({"text": "hi"})

    def deliver(_: int) -> bool:
        with Session(db_engine) as session:
            return idempotency.reserve(session=session, scope=SCOPE, key="race", payload_hash=digest, lease=LEASE) is None

    with ThreadPoolExecutor(max_workers=8) as pool:
        winners = list(pool.map(deliver, range(16)))
    assert winners.count(True) == 1


def test_an_expired_reservation_is_taken_over_by_one_retry(db_engine) -> None:
    digest = idempotency.request_hash({"text": "hi"})
    reserved_at = utcnow() - timedelta(seconds=31)
    with Session(db_engine) as session:  # the first request's server died after this
        assert idempotency.reserve(session=session, scope=SCOPE, key="dead", payload_hash=digest, lease=LEASE, now=reserved_at) is None
        assert idempotency.reserve(session=session, scope=SCOPE, key="dead", payload_hash=digest, lease=timedelta(seconds=60)).status_code == idempotency.IN_PROGRESS
        other = idempotency.request_hash({"text": "other"})
        assert idempotency.reserve(session=session, scope=SCOPE, key="dead", payload_hash=other, lease=LEASE).same_request is False

    def retry(_: int) -> bool:
        with Session(db_engine) as session:
            return idempotency.reserve(session=session, scope=SCOPE, key="dead", payload_hash=digest, lease=LEASE) is None

    with ThreadPoolExecutor(max_workers=8) as pool:
        winners = list(pool.map(retry, range(16)))
    assert winners.count(True) == 1  # the others are told to retry shortly, inside the new lease


def test_keys_older_than_the_retention_are_pruned(db_engine) -> None:
    digest = idempotency.request_hash({"text": "hi"})
    now = utcnow()
    with Session(db_engine) as session:
        idempotency.reserve(session=session, scope=SCOPE, key="old", payload_hash=digest, lease=LEASE, now=now - timedelta(hours=25))
        idempotency.complete(session=session, scope=SCOPE, key="old", status_code=200, body={"turn_id": "t"})
        idempotency.reserve(session=session, scope=SCOPE, key="recent", payload_hash=digest, lease=LEASE, now=now - timedelta(hours=1))
        assert idempotency.prune(session=session, older_than=now - timedelta(hours=24)) == 1
        assert session.exec(select(IdempotentResponse.key)).all() == ["recent"]
