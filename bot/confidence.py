"""Confidence as the probability that an answer is right, and the answer / clarify / decline rule.

A raw cosine says how close the question is to an entry, not whether that entry is the right one:
on real users' questions it does not separate right from wrong answers. The signals below are
read off the ranking alone (no labels): the best entry's cosine, its lead over the runner-up
(hybrid and dense), whether the keyword score agrees, how well one of its answer sentences
matches, the share of the question's words the knowledge knows, and the question's length.
Two logistic models turn them into probabilities: that the best entry is right, and that a
right entry is among the top choices. They are fitted per locale and model on a development
question set (`jiso calibrate`) and shipped as JSON; the thresholds come from their out-of-fold
predictions (pooled over repeated splits), so the target precision is what held-out questions
of the same kind got.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

SIGNALS = ("top_cosine", "lead", "dense_lead", "keyword_agreement", "sentence_evidence", "known_share", "log_length")
CHOICES = 3  # entries offered when jiso asks which one is meant
FOLDS = 5
REPEATS = 10  # cross-validation repeats pooled for the thresholds: one split's curve is too noisy to read a threshold off


class Ranked(Protocol):
    score: float
    dense: float
    lexical: float
    evidence: float


def signals(hits: Sequence[Ranked], *, known_share: float, tokens: int) -> list[float]:
    """The label-free signals of one ranking (best hit first)."""
    if not hits:
        return [0.0] * len(SIGNALS)
    top = hits[0]
    if len(hits) > 1:
        lead, dense_lead = top.score - hits[1].score, top.dense - max(hit.dense for hit in hits[1:])
    else:  # no runner-up: no evidence either way (standardize reads it as the usual lead)
        lead = dense_lead = math.nan
    return [top.dense, lead, dense_lead, top.lexical, top.evidence, known_share, math.log1p(tokens)]


@dataclass(frozen=True)
class Logistic:
    bias: float
    weights: tuple[float, ...]
    held_out: tuple[tuple[float, bool], ...]  # out-of-fold (probability, right) on the calibration set, most probable first

    def probability(self, standardized: np.ndarray) -> float:
        return float(1.0 / (1.0 + math.exp(-(self.bias + float(np.dot(self.weights, standardized))))))

    def threshold(self, target: float) -> float:
        """The lowest probability at which the held-out questions answered at or above it were
        right at least `target` of the time (above 1: never)."""
        right, threshold = 0, 1.01
        for count, (probability, correct) in enumerate(self.held_out, 1):
            right += correct
            if right / count >= target:
                threshold = probability
        return threshold


@dataclass(frozen=True)
class Calibration:
    locale: str
    model: str
    fitted_on: str
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    answer: Logistic  # P(the best entry is right)
    choices: Logistic  # P(a right entry is among the top CHOICES)

    def standardize(self, values: Sequence[float]) -> np.ndarray:
        """Signals in standard units; a missing one (NaN) is taken as the calibration set's mean."""
        z = (np.asarray(values, dtype=np.float64) - np.asarray(self.mean)) / np.asarray(self.scale)
        return np.where(np.isnan(z), 0.0, z)

    @classmethod
    def fit(cls, rows: Sequence[tuple[Sequence[float], bool, bool]], *, locale: str, model: str, fitted_on: str, seed: int = 0) -> Calibration:
        """Fit both models on (signals, best entry right, a right entry among the choices) rows."""
        x = np.asarray([row[0] for row in rows], dtype=np.float64)
        mean, scale = np.nanmean(x, axis=0), np.nanstd(x, axis=0) + 1e-9
        z = np.where(np.isnan(x), 0.0, (x - mean) / scale)
        rng = np.random.default_rng(seed)
        orders = [rng.permutation(len(rows)) for _ in range(REPEATS)]
        models = []
        for column in (1, 2):
            y = np.asarray([row[column] for row in rows], dtype=np.float64)
            pairs: list[tuple[float, bool]] = []
            for order in orders:
                held_out = np.zeros(len(rows))
                for fold in np.array_split(order, FOLDS):
                    train = np.setdiff1d(order, fold)
                    bias, weights = _logistic(z[train], y[train])
                    held_out[fold] = 1.0 / (1.0 + np.exp(-(bias + z[fold] @ weights)))
                pairs.extend((round(float(p), 4), bool(label)) for p, label in zip(held_out, y))
            bias, weights = _logistic(z, y)
            models.append(Logistic(round(float(bias), 6), tuple(round(float(w), 6) for w in weights), tuple(sorted(pairs, key=lambda pair: (-pair[0], pair[1])))))
        return cls(locale, model, fitted_on, tuple(map(float, mean)), tuple(map(float, scale)), *models)

    def to_json(self) -> dict:
        def part(logistic: Logistic) -> dict:
            return {"bias": logistic.bias, "weights": dict(zip(SIGNALS, logistic.weights)), "held_out": [list(pair) for pair in logistic.held_out]}

        return {
            "locale": self.locale,
            "model": self.model,
            "fitted_on": self.fitted_on,
            "signals": {name: {"mean": m, "scale": s} for name, m, s in zip(SIGNALS, self.mean, self.scale)},
            "answer": part(self.answer),
            "choices": part(self.choices),
        }

    @classmethod
    def from_json(cls, data: dict) -> Calibration:
        def part(raw: dict) -> Logistic:
            return Logistic(float(raw["bias"]), tuple(float(raw["weights"][name]) for name in SIGNALS), tuple((float(p), bool(r)) for p, r in raw["held_out"]))

        return cls(
            data["locale"], data["model"], data["fitted_on"],
            tuple(float(data["signals"][name]["mean"]) for name in SIGNALS),
            tuple(float(data["signals"][name]["scale"]) for name in SIGNALS),
            part(data["answer"]), part(data["choices"]),
        )  # fmt: skip


def _logistic(z: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 50) -> tuple[float, np.ndarray]:
    """L2-regularized logistic regression by Newton's method (the bias is not penalized)."""
    design = np.c_[np.ones(len(z)), z]
    penalty = l2 * np.diag(np.r_[0.0, np.ones(z.shape[1])])
    w = np.zeros(design.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-design @ w))
        gradient = design.T @ (p - y) + penalty @ w
        hessian = (design.T * (p * (1 - p))) @ design + penalty + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return float(w[0]), w[1:]


def calibration_text(calibration: Calibration) -> str:
    """The calibration as JSON a person can read: one line per held-out list, not per number."""
    data = calibration.to_json()
    pooled = {part: data[part].pop("held_out") for part in ("answer", "choices")}
    text = json.dumps(data, ensure_ascii=False, indent=1)
    for part, pairs in pooled.items():
        compact = json.dumps([[p, int(r)] for p, r in pairs], separators=(",", ":"))
        text = text.replace(f'"{part}": {{\n', f'"{part}": {{\n  "held_out": {compact},\n', 1)
    return text + "\n"


def calibration_file(directory: Path, locale: str, model: str) -> Path:
    return directory / f"{locale}.{re.sub(r'[^A-Za-z0-9._-]+', '_', model)}.json"


class CalibrationMissing(Exception):
    """No calibration was fitted for this locale and model."""


def load_calibration(directory: Path, locale: str, model: str) -> Calibration:
    path = calibration_file(directory, locale, model)
    if not path.is_file():
        raise CalibrationMissing(
            f"no answer calibration for locale {locale} with model {model!r} ({path} is missing): "
            f"fit one with `jiso calibrate QUESTION_SET --locale {locale}` (docs/BENCHMARKS.md, 'Answer, ask or decline')"
        )
    return Calibration.from_json(json.loads(path.read_text(encoding="utf-8")))
