"""The KPI reports (definitions: docs/kpis.md, "KPI definitions v2"), built from the SQL
aggregates in `queries`. Rates are null when their denominator is zero, never a made-up 0."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from bot.engine import Engine
from bot.ledger.outcomes import OUTCOMES
from bot.onboarding import Checklist
from bot.reports import queries
from bot.reports.clusters import cluster_questions
from bot.reports.periods import Interval, Period, iso
from bot.reports.periods import buckets as make_buckets
from bot.reports.queries import Filters, Window
from indexer.embedder import Embedder

log = logging.getLogger(__name__)
KPI_VERSION = "kpis-v3"
NO_ORG = None


def rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _hours(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


@dataclass(frozen=True)
class ReportScope:
    session: Session
    checklist: Checklist
    period: Period
    filters: Filters
    now: datetime
    quiet: timedelta
    rollups: bool = True  # False: compute every row (the reference the rollups are tested against)

    @property
    def window(self) -> Window:
        return Window(self.period.start, self.period.end, self.now, self.quiet, self.filters, self.rollups)

    def header(self) -> dict[str, Any]:
        filters = {"org_id": self.filters.org_id, "channel": self.filters.channel, "locale": self.filters.locale}
        return {"kpi_version": KPI_VERSION, "period": self.period.to_json(), "filters": filters, "as_of": iso(self.now)}


def conversation_kpis(counts: Mapping[str, int]) -> dict[str, Any]:
    by = {outcome: int(counts.get(outcome, 0)) for outcome in OUTCOMES}
    total = sum(by.values())
    decided = total - by["open"]
    resolved = by["resolved_confirmed"] + by["resolved_assumed"]
    return {
        "conversations": total,
        "decided": decided,
        **by,
        "resolved": resolved,
        "deflection_rate": rate(resolved, decided),
        "confirmed_rate": rate(by["resolved_confirmed"], decided),
        "assumed_rate": rate(by["resolved_assumed"], decided),
        "escalation_rate": rate(by["escalated"], decided),
        "unanswered_rate": rate(by["unanswered"], decided),
    }


def handover_kpis(scope: ReportScope) -> dict[str, Any]:
    """What people did with the hand-overs (v2): none of it changes the outcome counts above."""
    window = scope.window
    results = queries.handover_results(scope.session, window)
    return {
        "open_escalations": queries.open_escalations(scope.session, window),
        "resolved_by_person": results["resolved_by_person"],
        "median_time_to_first_human_reply_hours": _hours(results["first_reply"]),
        "median_time_to_close_hours": _hours(results["close"]),
    }


def onboarding_kpis(row: Mapping[str, Any] | None) -> dict[str, Any]:
    """From a row of `queries.onboarding_counts(..., times=True)` (None: nobody started)."""
    row = row or {"started": 0, "completed": 0, "self_serve": 0, "involved": 0}
    started = row["started"]
    times = row.get("times") or {}
    return {
        "users_started": started,
        "users_completed": row["completed"],
        "completion_rate": rate(row["completed"], started),
        "self_serve_completed": row["self_serve"],
        "self_serve_completion_rate": rate(row["self_serve"], started),
        "users_involved": row["involved"],
        "involvement": rate(row["involved"], started),
        "median_time_to_complete_hours": _hours(times.get("median")),
        "p90_time_to_complete_hours": _hours(times.get("p90")),
    }


def _funnel(checklist: Checklist, row: Mapping[str, Any] | None, locale: str) -> list[dict[str, Any]]:
    """In checklist order: `reached` = did this step and every required step before it;
    `drop_off` = users who reached the previous required step (or started) but not this one."""
    started = row["started"] if row else 0
    previous = started
    funnel = []
    for i, step in enumerate(checklist.steps):
        done = row["done"][i] if row else 0
        reached = row["reached"][i] if row else 0
        funnel.append(
            {
                "step": step.id,
                "title": step.title(locale),
                "required": step.required,
                "done": done,
                "done_rate": rate(done, started),
                "reached": reached,
                "reached_rate": rate(reached, started),
                "drop_off": previous - reached,
                "drop_off_rate": rate(previous - reached, previous),
            }
        )
        if step.required:
            previous = reached
    return funnel


def _outcomes_by_key(rows: list[tuple]) -> dict[Any, dict[str, int]]:
    by_key: dict[Any, dict[str, int]] = {}
    for key, outcome, count in rows:
        by_key.setdefault(key, {})[outcome] = int(count)
    return by_key


def summary(scope: ReportScope, locale: str = "en") -> dict[str, Any]:
    window = scope.window
    outcomes = _outcomes_by_key(queries.outcome_counts(scope.session, window)).get(None, {})
    onboarding = next(iter(queries.onboarding_counts(scope.session, scope.checklist, window, times=True, funnel=True)), None)
    return {
        **scope.header(),
        "conversations": {**conversation_kpis(outcomes), **handover_kpis(scope)},
        "onboarding": {**onboarding_kpis(onboarding), "funnel": _funnel(scope.checklist, onboarding, locale)},
        "unknown_events": [{"name": name, "count": count} for name, count in queries.unknown_event_names(scope.session, window)],
    }


def timeseries(scope: ReportScope, interval: Interval) -> dict[str, Any]:
    buckets = make_buckets(scope.period, interval)
    # Whole weeks/months: the buckets may reach beyond the period's first and last day.
    wide = Window(buckets[0].start, buckets[-1].end, scope.now, scope.quiet, scope.filters, scope.rollups)
    outcomes = _outcomes_by_key(queries.outcome_counts(scope.session, wide, buckets=buckets))
    onboarding = {row["key"]: row for row in queries.onboarding_counts(scope.session, scope.checklist, wide, buckets=buckets, times=True)}
    rows = []
    for i, bucket in enumerate(buckets):
        rows.append(
            {
                "bucket": bucket.label.isoformat(),
                "start_utc": iso(bucket.start),
                "end_utc": iso(bucket.end),
                **conversation_kpis(outcomes.get(i, {})),
                **onboarding_kpis(onboarding.get(i)),
            }
        )
    return {**scope.header(), "interval": interval, "buckets": rows}


def organizations(scope: ReportScope) -> dict[str, Any]:
    window = scope.window
    onboarding = {row["key"]: row for row in queries.onboarding_counts(scope.session, scope.checklist, window, by_org=True)}
    outcomes = _outcomes_by_key(queries.outcome_counts(scope.session, window, by_org=True))
    open_escalations = queries.open_escalations_by_org(scope.session, window)
    keys = set(onboarding) | set(outcomes) | {org for org, count in open_escalations.items() if count}
    rows = []
    for org in sorted(keys, key=lambda k: (k is None, k or "")):
        board = onboarding.get(org) or {"started": 0, "completed": 0, "self_serve": 0, "involved": 0}
        talk = conversation_kpis(outcomes.get(org, {}))
        rows.append(
            {
                "org_id": org,
                "users": board["started"],
                "users_completed": board["completed"],
                "completed_share": rate(board["completed"], board["started"]),
                "self_serve_share": rate(board["self_serve"], board["started"]),
                "involvement": rate(board["involved"], board["started"]),
                "conversations": talk["conversations"],
                "deflection_rate": talk["deflection_rate"],
                "escalation_rate": talk["escalation_rate"],
                "open_escalations": open_escalations.get(org, 0),
            }
        )
    return {**scope.header(), "organizations": rows}


def entries(scope: ReportScope, catalog: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """`catalog`: entry id → {title, path, kind, locale, onboarding_step} from the loaded index."""
    rows = []
    for stats in queries.entry_stats(scope.session, scope.window):
        info = catalog.get(stats["entry_id"], {})
        rows.append(
            {
                **stats,
                "title": info.get("title"),
                "path": info.get("path"),
                "kind": info.get("kind"),
                "onboarding_step": info.get("onboarding_step"),
                "helpful_rate": rate(stats["helpful"], stats["helpful"] + stats["not_helpful"]),
                "escalated_after_rate": rate(stats["escalated_after"], stats["shown"]),
            }
        )
    return {**scope.header(), "entries": rows}


def answered_now_by(engine: Engine) -> Callable[[str, str], bool]:
    """`gaps`' `answered_now` for the knowledge `engine` serves."""

    def answered(question: str, locale: str) -> bool:
        try:
            return engine.answer(question, locale).confident
        except Exception:  # a report must not fail on one question: the group stays a gap
            log.exception("answering a gap's question failed; keeping it in the gaps")
            return False

    return answered


def gaps(
    scope: ReportScope,
    embedder_for: Callable[[str], Embedder],
    *,
    min_similarity: Mapping[str, float],
    limit: int = 2000,
    top: int = 50,
    answered_now: Callable[[str, str], bool] | None = None,
) -> dict[str, Any]:
    """`answered_now(question, locale)`: whether the knowledge indexed now answers the question
    with confidence. A cluster whose most asked wording it answers is no gap any more (an entry
    was written since): it is left out and counted in `covered`."""
    questions = queries.gap_questions(scope.session, scope.window, limit)
    clusters = cluster_questions(questions, embedder_for, min_similarity=min_similarity)
    shown, covered = [], 0
    for cluster in clusters:
        if len(shown) == top:
            break
        if answered_now is not None and answered_now(cluster.examples[0], cluster.locale):
            covered += 1
            continue
        shown.append(cluster.to_json())
    return {
        **scope.header(),
        "questions": len(questions),
        "truncated": len(questions) >= limit,
        "min_similarity": dict(min_similarity),
        "covered": covered,
        "clusters": shown,
    }
