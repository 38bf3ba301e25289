"""The calibrated answer policy: probabilities from label-free signals, thresholds by a target precision."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot.confidence import SIGNALS, Calibration, CalibrationMissing, Logistic, calibration_text, load_calibration, signals
from bot.engine import Engine, Hit, Policy
from indexer.documents import Entry
from indexer.pipeline import LocaleConfig, build_index
from indexer.store import load_index
from tests.support import cosine_calibration
from tests.unit.test_ranking import KeywordEmbedder

pytestmark = pytest.mark.unit


def test_threshold_is_the_lowest_probability_whose_answers_reach_the_target() -> None:
    # Most probable first: right, right, wrong, right, wrong → precision 1, 1, 2/3, 3/4, 3/5.
    model = Logistic(0.0, (0.0,) * len(SIGNALS), ((0.9, True), (0.8, True), (0.7, False), (0.6, True), (0.5, False)))
    assert model.threshold(1.0) == 0.8
    assert model.threshold(0.75) == 0.6  # 3 right of the 4 at or above 0.6
    assert model.threshold(0.6) == 0.5
    never = Logistic(0.0, (0.0,) * len(SIGNALS), ((0.9, False),))
    assert never.threshold(0.5) > 1.0  # no probability reaches the target: never answer


def test_fitted_probabilities_follow_the_signals_and_survive_a_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    rows = []
    for _ in range(300):
        right = bool(rng.random() < 0.6)
        cosine = rng.normal(0.75 if right else 0.45, 0.1)
        lead = rng.normal(0.15 if right else 0.02, 0.05)
        rows.append(([cosine, lead, lead, 1.0, cosine, 1.0, 1.5], right, right or bool(rng.random() < 0.5)))
    calibration = Calibration.fit(rows, locale="en", model="m", fitted_on="synthetic")
    sure, unsure = calibration.standardize([0.85, 0.2, 0.2, 1.0, 0.85, 1.0, 1.5]), calibration.standardize([0.4, 0.0, 0.0, 1.0, 0.4, 1.0, 1.5])
    assert calibration.answer.probability(sure) > 0.9 > 0.2 > calibration.answer.probability(unsure)
    assert len(calibration.answer.held_out) == 10 * len(rows)  # out-of-fold, pooled over the repeats
    (tmp_path / "en.m.json").write_text(calibration_text(calibration), encoding="utf-8")
    loaded = load_calibration(tmp_path, "en", "m")
    assert loaded.answer.probability(loaded.standardize([0.85, 0.2, 0.2, 1.0, 0.85, 1.0, 1.5])) == pytest.approx(calibration.answer.probability(sure), abs=1e-4)
    assert loaded.answer.threshold(0.9) == calibration.answer.threshold(0.9)
    assert json.loads((tmp_path / "en.m.json").read_text())["answer"]["weights"]["top_cosine"] > 0


def test_a_missing_calibration_names_the_command_that_fits_one(tmp_path: Path) -> None:
    with pytest.raises(CalibrationMissing, match=r"jiso calibrate QUESTION_SET --locale ja"):
        load_calibration(tmp_path, "ja", "some/model")


def test_signals_read_the_lead_over_the_runner_up() -> None:
    entry = Entry("a", "faq", "en", "a.md", "A", ("A",), 1, 1, "a", "a")
    hits = [Hit(entry, 0.9, 0.8, 1.0, 0.7), Hit(entry, 0.6, 0.75, 0.2, 0.5)]
    values = dict(zip(SIGNALS, signals(hits, known_share=0.5, tokens=3)))
    assert values["top_cosine"] == 0.8 and values["lead"] == pytest.approx(0.3) and values["dense_lead"] == pytest.approx(0.05)
    assert values["keyword_agreement"] == 1.0 and values["sentence_evidence"] == 0.7 and values["known_share"] == 0.5
    assert values["log_length"] == pytest.approx(np.log1p(3))


@pytest.fixture
def engine(tmp_path: Path):
    def faq(entry_id: str, title: str, body: str) -> Entry:
        return Entry(entry_id, "faq", "en", f"{entry_id}.md", title, ("T", title), 1, 3, body, body)

    entries = [faq("x", "alpha beta", "Gamma."), faq("y", "alpha delta", "Epsilon."), faq("z", "zeta", "Zeta.")]
    embedder = KeywordEmbedder()
    build_index(entries, tmp_path, configs={"en": LocaleConfig("keywords", "words")}, embedder_for=lambda locale: embedder)
    return lambda answer_at, clarify_at: Engine(load_index(tmp_path), lambda locale: embedder, Policy({"en": cosine_calibration("en", "keywords", answer_at, clarify_at)}, lexical_weights={"en": 0.0}))


def test_unsure_between_two_entries_it_asks_which_one_is_meant(engine) -> None:
    # "alpha" is 1/√2 from both x and y: not enough to answer at 0.9, enough to ask at 0.5.
    answer = engine(0.9, 0.5).answer("alpha", "en")
    assert answer.decision == "clarify" and not answer.confident and answer.entry is None
    assert {choice.id for choice in answer.choices[:2]} == {"x", "y"}
    assert answer.text.startswith("I found a few entries")
    assert answer.to_json()["choices"][0]["id"] in {"x", "y"}


def test_sure_it_answers_and_lost_it_declines(engine) -> None:
    sure = engine(0.6, 0.5).answer("alpha beta", "en")
    assert sure.decision == "answer" and sure.entry.id == "x" and 0.5 < sure.confidence <= 1.0
    lost = engine(0.9, 0.9).answer("alpha", "en")
    assert lost.decision == "decline" and lost.choices == [] and lost.text.startswith("I don't know")


def test_a_single_hit_has_no_lead_and_is_not_taken_as_a_huge_one() -> None:
    entry = Entry("a", "faq", "en", "a.md", "A", ("A",), 1, 1, "a", "a")
    values = signals([Hit(entry, 0.3, 0.3, 0.0, 0.2)], known_share=0.2, tokens=5)
    weights = (1.0,) * (len(SIGNALS) - 1) + (0.0,)  # length aside
    calibration = Calibration("en", "m", "t", (0.5,) * len(SIGNALS), (0.1,) * len(SIGNALS), Logistic(0.0, weights, ((0.5, True),)), Logistic(0.0, weights, ((0.5, True),)))
    standardized = calibration.standardize(values)
    assert standardized[1] == 0.0 and standardized[2] == 0.0  # the leads read as the usual ones
    assert calibration.answer.probability(standardized) < 0.01  # a weak lone match stays unsure
