"""From onboarding to retention: do users who onboarded on their own stay more than those who
needed help or never finished? (definitions: docs/kpis.md, "Retention")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, case, exists, func, literal_column, select

from bot.reports.kpis import ReportScope, rate
from bot.reports.queries import E, cohort, dialect_of, onboarding_users, plus_days, product_event

GROUPS = ("self_serve", "with_help", "not_completed")
DEFAULT_WEEKS = (4, 8, 12)
MAX_WEEK = 104  # two years
MAX_WEEKS = 12  # values in one request


class BadWeeks(ValueError):
    pass


def parse_weeks(text: str) -> tuple[int, ...]:
    """`4,8,12` → (4, 8, 12): distinct week numbers 1..104, in ascending order."""
    try:
        weeks = sorted({int(part) for part in text.split(",")})
    except ValueError:
        raise BadWeeks(f"weeks '{text}': give week numbers separated by commas, e.g. 4,8,12") from None
    if not weeks or weeks[0] < 1 or weeks[-1] > MAX_WEEK:
        raise BadWeeks(f"weeks '{text}': each week number is between 1 and {MAX_WEEK}")
    if len(weeks) > MAX_WEEKS:
        raise BadWeeks(f"weeks '{text}': at most {MAX_WEEKS} week numbers in one report")
    return tuple(weeks)


def retention(scope: ReportScope, weeks: Sequence[int] = DEFAULT_WEEKS) -> dict[str, Any]:
    """Users who started in the period, by how they onboarded; per week k, the share of those
    whose k-th week [start + 7(k−1) d, start + 7k d) has fully passed that sent any event in it."""
    window = scope.window
    dialect = dialect_of(scope.session)
    group = cohort(onboarding_users(scope.checklist, window, dialect), window)
    label = case(
        (group.c.completed_at.is_(None), literal_column("'not_completed'")),
        (group.c.self_serve == literal_column("1"), literal_column("'self_serve'")),
        else_=literal_column("'with_help'"),
    )
    flags = []
    for k in weeks:
        week_start, week_end = plus_days(group.c.started_at, 7 * (k - 1), dialect), plus_days(group.c.started_at, 7 * k, dialect)
        eligible = week_end <= window.now
        active = exists().where(E.c.user_id == group.c.user_id, E.c.occurred_at >= week_start, E.c.occurred_at < week_end, product_event())
        flags.append(case((eligible, literal_column("1")), else_=literal_column("0")).label(f"e{k}"))
        flags.append(case((and_(eligible, active), literal_column("1")), else_=literal_column("0")).label(f"r{k}"))
    per_user = select(label.label("grp"), *flags).select_from(group).subquery("per_user")
    query = select(per_user.c.grp, func.count(), *[func.sum(per_user.c[f"{kind}{k}"]) for k in weeks for kind in ("e", "r")]).group_by(per_user.c.grp)
    counts = {row[0]: [int(value or 0) for value in row[1:]] for row in scope.session.execute(query)}
    groups = {}
    for name in GROUPS:
        values = counts.get(name, [0] * (1 + 2 * len(weeks)))
        eligible = {str(k): values[1 + 2 * i] for i, k in enumerate(weeks)}
        retained = {str(k): rate(values[2 + 2 * i], values[1 + 2 * i]) for i, k in enumerate(weeks)}
        groups[name] = {"users": values[0], "retained": retained, "eligible": eligible}
    return {**scope.header(), "weeks": list(weeks), "groups": groups}
