from __future__ import annotations

from pathlib import Path

import pytest

from bot.engine import Policy
from bot.evaluation import _metrics, evaluate, load_beir, risk_coverage
from tests.support import cosine_calibration

from .conftest import FAKE_CONFIGS

pytestmark = pytest.mark.unit
TINY = Path(__file__).parent.parent / "fixtures" / "beir-tiny"


def test_metrics_match_a_hand_computation() -> None:
    ranked = [["d1", "d2"], ["d3", "d2", "d1"], ["d9", "d8", "d7", "d6", "d5", "d4"]]
    gold = [{"d1"}, {"d1"}, {"d4"}]
    metrics = _metrics(ranked, gold)
    # p@1: only the first query; MRR: (1 + 1/3 + 1/6) / 3; recall@5: (1 + 1 + 0) / 3
    assert metrics["p@1"] == pytest.approx(1 / 3)
    assert metrics["mrr@10"] == pytest.approx((1 + 1 / 3 + 1 / 6) / 3)
    assert metrics["recall@5"] == pytest.approx(2 / 3)
    # nDCG@10: (1 + 1/log2(4) + 1/log2(7)) / 3, the ideal DCG being 1 for one relevant document
    assert metrics["ndcg@10"] == pytest.approx((1 + 0.5 + 1 / 2.807354922057604) / 3)


def test_eval_on_a_tiny_beir_fixture(embedder_for) -> None:
    collection = load_beir(TINY)
    assert [e.id for e in collection.corpus] == ["d1", "d2", "d3"]
    result = evaluate(collection, configs=FAKE_CONFIGS, embedder_for=embedder_for, policy=Policy({"en": cosine_calibration("en", "fake", 0.0)}))
    assert result["default"] == "hybrid"
    assert set(result["methods"]) == {"hybrid", "dense", "bm25"}
    bm25 = result["methods"]["bm25"]
    # q1-q3 share a distinctive word with their document only; q4 ("lost credentials") shares no
    # word with any document, so BM25 ranks nothing for it: 3 of 4 at rank 1, and nowhere else.
    assert bm25["p@1"] == pytest.approx(0.75)
    assert bm25["mrr@10"] == pytest.approx(0.75)
    assert bm25["recall@5"] == pytest.approx(0.75)
    assert "answered_share" not in bm25 and "aurc" not in bm25  # only the calibrated default decides
    hybrid = result["methods"]["hybrid"]
    assert hybrid["answered_share"] == pytest.approx(1.0)  # threshold 0: everything is answered
    for key in ("p@1", "mrr@10", "recall@5", "ndcg@10", "p50_ms", "p95_ms", "answered_precision", "clarified_share", "reached_correct", "aurc", "precision_at_coverage"):
        assert key in hybrid
    assert hybrid["reached_correct"] == pytest.approx(hybrid["p@1"])  # everything answered, nothing asked
    assert set(result["confidence_baselines"]) == {"hybrid_raw_cosine", "dense_raw_cosine"}


def test_risk_coverage_matches_a_hand_computation() -> None:
    # Most confident first: right, wrong, right, wrong → risks 0, 1/2, 1/3, 2/4.
    measured = risk_coverage([(0.9, True), (0.8, False), (0.7, True), (0.1, False)])
    assert measured["aurc"] == pytest.approx((0 + 1 / 2 + 1 / 3 + 2 / 4) / 4, abs=1e-4)
    assert measured["precision_at_coverage"][0] == {"coverage": 0.2, "precision": 1.0}  # the one most confident
    assert measured["precision_at_coverage"][-1] == {"coverage": 0.8, "precision": round(2 / 3, 4)}  # 3 of 4
