"""Do nudges and step-tagged entries go with users doing the step? Per step: nudges shown,
opened, dismissed, and the share of users who did the step within 7 days after opening one,
after dismissing one, and among users never nudged; per FAQ entry tagged with a step: the share
who did the step within 7 days after the entry was shown as an answer (definitions: docs/kpis.md,
"Nudges"). Observational: who opens a nudge is not chosen at random."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, case, exists, func, literal, literal_column, select
from sqlalchemy.sql import ColumnElement

from bot.nudges import NUDGE_EVENTS
from bot.reports.kpis import ReportScope, rate
from bot.reports.queries import C, E, T, U, cohort, dialect_of, plus_days, user_rows

WITHIN = timedelta(days=7)
CAVEAT = "Observational comparison, not a causal effect: users who open a nudge, dismiss it or are never nudged differ in other ways too."
ONE, ZERO = literal_column("1"), literal_column("0")


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, ONE), else_=ZERO)


def _comparison(users: int, eligible: int, did: int) -> dict[str, Any]:
    return {"users": users, "eligible": eligible, "did_step": did, "share": rate(did, eligible)}


def nudge_report(scope: ReportScope, catalog: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """`catalog`: entry id → {title, onboarding_step, ...} from the loaded index."""
    session, checklist, window = scope.session, scope.checklist, scope.window
    dialect = dialect_of(session)
    days = WITHIN.days
    users = user_rows(checklist, window, dialect)
    index = {step.id: i for i, step in enumerate(checklist.steps)}

    def done_at(key: ColumnElement, step_of: Mapping[str, str]) -> ColumnElement:
        """The time the step `key` stands for (a step id, or an entry id via `step_of`) was done."""
        branches = [(key == literal(name), users.c[f"d{index[step]}"]) for name, step in step_of.items() if step in index]
        return case(*branches) if branches else literal_column("NULL")

    members = [E.c.user_id.in_(select(U.c.id).where(U.c.org_id == window.filters.org_id))] if window.filters.org_id is not None else []
    step_of_event = E.c.properties["step"].as_string()
    nudged = (
        select(E.c.user_id.label("user_id"), step_of_event.label("step"), E.c.name.label("name"), E.c.occurred_at.label("t"))
        .where(E.c.name.in_(list(NUDGE_EVENTS.values())), E.c.occurred_at >= window.start, E.c.occurred_at < window.end, *members)
        .subquery("nudged")
    )
    counts: dict[tuple[str, str], int] = {}
    for step, name, count in session.execute(select(nudged.c.step, nudged.c.name, func.count()).group_by(nudged.c.step, nudged.c.name)):
        counts[(step, name)] = int(count)

    pairs = (
        select(
            nudged.c.user_id,
            nudged.c.step,
            func.min(case((nudged.c.name == NUDGE_EVENTS["opened"], nudged.c.t))).label("opened_at"),
            func.min(case((nudged.c.name == NUDGE_EVENTS["dismissed"], nudged.c.t))).label("dismissed_at"),
        )
        .group_by(nudged.c.user_id, nudged.c.step)
        .subquery("pairs")
    )
    # A user who opened a nudge for the step is in "opened" (from the first opening), else one who dismissed it.
    anchor = func.coalesce(pairs.c.opened_at, pairs.c.dismissed_at)
    step_done = done_at(pairs.c.step, {step: step for step in index})
    eligible = plus_days(anchor, days, dialect) <= window.now
    did = and_(eligible, step_done >= anchor, step_done < plus_days(anchor, days, dialect))
    grouped = (
        select(pairs.c.step, case((pairs.c.opened_at.is_not(None), literal_column("'opened'")), else_=literal_column("'dismissed'")).label("grp"), _flag(eligible).label("e"), _flag(did).label("d"))
        .select_from(pairs.outerjoin(users, users.c.user_id == pairs.c.user_id))
        .where(anchor.is_not(None))
        .subquery("grouped")
    )
    after: dict[tuple[str, str], dict[str, Any]] = {}
    for step, group, n, e, d in session.execute(select(grouped.c.step, grouped.c.grp, func.count(), func.sum(grouped.c.e), func.sum(grouped.c.d)).group_by(grouped.c.step, grouped.c.grp)):
        after[(step, group)] = _comparison(int(n), int(e or 0), int(d or 0))

    # Never nudged: users who started in the period with no nudge for the step, ever; from their start.
    group = cohort(users, window)
    started_eligible = plus_days(group.c.started_at, days, dialect) <= window.now
    columns = []
    for i, step in enumerate(checklist.steps):
        shown = E.alias(f"shown_{i}")
        never = ~exists().where(shown.c.user_id == group.c.user_id, shown.c.name == NUDGE_EVENTS["shown"], shown.c.properties["step"].as_string() == step.id)
        done = group.c[f"d{i}"]
        columns += [func.sum(_flag(never)), func.sum(_flag(and_(never, started_eligible))), func.sum(_flag(and_(never, started_eligible, done < plus_days(group.c.started_at, days, dialect))))]
    baseline = [int(v or 0) for v in session.execute(select(*columns)).one()] if columns else []

    empty = _comparison(0, 0, 0)
    steps = []
    for i, step in enumerate(checklist.steps):
        steps.append(
            {
                "step": step.id,
                "title": step.title("en"),
                "required": step.required,
                **{action: counts.get((step.id, name), 0) for action, name in NUDGE_EVENTS.items()},
                "after_opened": after.get((step.id, "opened"), empty),
                "after_dismissed": after.get((step.id, "dismissed"), empty),
                "never_nudged": _comparison(*baseline[3 * i : 3 * i + 3]),
            }
        )
    return {**scope.header(), "within_days": days, "caveat": CAVEAT, "steps": steps, "entries": _entries(scope, catalog, users, done_at)}


def _entries(scope: ReportScope, catalog: Mapping[str, Mapping[str, Any]], users, done_at) -> list[dict[str, Any]]:
    """Per FAQ entry tagged with a step: answers shown in the period, to how many users, and the
    share who did the step within 7 days after the entry was first shown to them."""
    session, window = scope.session, scope.window
    dialect = dialect_of(session)
    tagged = {entry_id: info["onboarding_step"] for entry_id, info in catalog.items() if info.get("kind") == "faq" and info.get("onboarding_step") in set(scope.checklist.ids)}
    if not tagged:
        return []
    clauses = [T.c.answered, T.c.entry_id.in_(list(tagged)), C.c.user_id.is_not(None), T.c.created_at >= window.start, T.c.created_at < window.end]
    if window.filters.org_id is not None:
        clauses.append(C.c.user_id.in_(select(U.c.id).where(U.c.org_id == window.filters.org_id)))
    first = (
        select(C.c.user_id.label("user_id"), T.c.entry_id.label("entry_id"), func.min(T.c.created_at).label("shown_at"), func.count().label("answers"))
        .select_from(T.join(C, C.c.id == T.c.conversation_id))
        .where(*clauses)
        .group_by(C.c.user_id, T.c.entry_id)
        .subquery("first_shown")
    )
    step_done = done_at(first.c.entry_id, tagged)
    eligible = plus_days(first.c.shown_at, WITHIN.days, dialect) <= window.now
    did = and_(eligible, step_done >= first.c.shown_at, step_done < plus_days(first.c.shown_at, WITHIN.days, dialect))
    per_user = select(first.c.entry_id, first.c.answers, _flag(eligible).label("e"), _flag(did).label("d")).select_from(first.outerjoin(users, users.c.user_id == first.c.user_id)).subquery("per_user")
    query = select(per_user.c.entry_id, func.sum(per_user.c.answers), func.count(), func.sum(per_user.c.e), func.sum(per_user.c.d)).group_by(per_user.c.entry_id).order_by(per_user.c.entry_id)
    rows = []
    for entry_id, shown, n, e, d in session.execute(query):
        rows.append({"entry_id": entry_id, "title": catalog[entry_id].get("title"), "onboarding_step": tagged[entry_id], "shown": int(shown), **_comparison(int(n), int(e or 0), int(d or 0))})
    return rows
