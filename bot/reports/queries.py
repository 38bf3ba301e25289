"""The reports' SQL. Every aggregation runs in the database, identically on SQLite and PostgreSQL.

Portability rules kept here:
- timestamps are compared to bound UTC instants only (no timezone math in SQL; see `periods`);
- an expression with bound parameters is never grouped on directly (PostgreSQL would see two
  different expressions): it is labelled in a subquery and the outer query groups on the label;
- the only dialect-specific pieces are `hours_between`, `plus_days` and `minute_of`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import Float, Integer, and_, case, cast, exists, extract, false, func, literal, literal_column, or_, select, type_coerce, union, union_all
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql import ColumnElement, Select, operators
from sqlalchemy.sql.elements import UnaryExpression
from sqlalchemy.sql.selectable import CTE, FromClause, Subquery
from sqlmodel import Session

from bot.ledger.events import JISO_EVENT_PREFIX
from bot.ledger.models import (
    Conversation,
    EndUser,
    Escalation,
    Feedback,
    HandoverFact,
    OnboardingDirty,
    OnboardingEvent,
    OnboardingState,
    OutcomeChange,
    OutcomeHour,
    OutcomeOrgDay,
    OutcomeOrgMonth,
    OutcomeOrgMonthTotal,
    PersonReply,
    Turn,
    UnknownEventChange,
    UnknownEventDay,
    UTCDateTime,
)
from bot.ledger.outcomes import outcome_sql
from bot.onboarding import Checklist
from bot.reports.periods import Bucket

C = Conversation.__table__
E = OnboardingEvent.__table__
U = EndUser.__table__
T = Turn.__table__
F = Feedback.__table__
X = Escalation.__table__
R = PersonReply.__table__
H = OutcomeHour.__table__
G = OutcomeOrgDay.__table__
Y = OutcomeOrgMonth.__table__  # per organization and month
Z = OutcomeOrgMonthTotal.__table__  # per organization and month, every channel and locale
D = OutcomeChange.__table__
S = OnboardingState.__table__
M = OnboardingDirty.__table__  # users Marked dirty
K = HandoverFact.__table__  # hand-overs with their conversation's columns
V = UnknownEventDay.__table__  # unknown event names per UTC day
W = UnknownEventChange.__table__  # their changes not folded yet
MAX_BUCKETS = 400  # SQLite allows 500 terms in one UNION ALL


@dataclass(frozen=True)
class Filters:
    org_id: str | None = None
    channel: str | None = None
    locale: str | None = None

    def on(self, table: FromClause) -> list[ColumnElement[bool]]:
        """The filters given, as equalities on `table`'s columns of the same names."""
        return [table.c[name] == value for name, value in (("org_id", self.org_id), ("channel", self.channel), ("locale", self.locale)) if value is not None]


@dataclass(frozen=True)
class Window:
    """What a report looks at: conversations/users that began in [start, end), seen at `now`."""

    start: datetime
    end: datetime
    now: datetime
    quiet: timedelta
    filters: Filters = Filters()
    rollups: bool = True  # read the maintained aggregates; False computes every row (their reference)


def _int(value: int) -> ColumnElement[int]:
    return literal_column(str(int(value)))


def hours_between(earlier: ColumnElement, later: ColumnElement, dialect: str) -> ColumnElement[float]:
    """The report indexes on hours (migrations 0015, 0017) are on this expression, as written here."""
    if dialect == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * literal_column("24.0")
    # Double precision, as percentile_cont computes: an interpolation between two ranks gives its number.
    return cast(extract("epoch", later - earlier) / literal_column("3600.0"), Float)


def plus_days(instant: ColumnElement, days: int, dialect: str) -> ColumnElement:
    if dialect == "sqlite":  # same text shape as stored values, so comparisons stay textual and exact
        return func.strftime(literal_column("'%Y-%m-%d %H:%M:%f'"), instant, literal_column(f"'+{int(days)} days'"))
    return instant + literal_column(f"interval '{int(days)} days'")


def minute_of(instant: ColumnElement, dialect: str) -> ColumnElement:
    if dialect == "sqlite":
        return func.substr(instant, 1, 16)
    return func.date_trunc(literal_column("'minute'"), instant)


def dialect_of(session: Session) -> str:
    return session.get_bind().dialect.name


def product_event() -> ColumnElement[bool]:
    """Sent by the product, not recorded by jiso itself (nudges): only these are the user's activity."""
    return ~E.c.name.like(f"{JISO_EVENT_PREFIX}%")


def bucket_table(buckets: Sequence[Bucket]) -> Subquery:
    """[start, end) ranges as rows, to join against (an index range scan per bucket)."""
    return _instant_rows("buckets", [{"b_start": b.start, "b_end": b.end} for b in buckets])


def _instant_rows(name: str, rows: Sequence[dict[str, datetime | int]]) -> Subquery:
    """One row per bucket (numbered `bucket`), with these instants (or integers) as its columns."""
    if not 0 < len(rows) <= MAX_BUCKETS:
        raise ValueError(f"between 1 and {MAX_BUCKETS} buckets, not {len(rows)}")

    def value(v: datetime | int) -> ColumnElement:
        return _int(v) if isinstance(v, int) else literal(v, UTCDateTime())

    selects = [select(_int(i).label("bucket"), *[value(v).label(k) for k, v in row.items()]) for i, row in enumerate(rows)]
    return (union_all(*selects) if len(selects) > 1 else selects[0]).subquery(name)


def conversation_filters(window: Window) -> list[ColumnElement[bool]]:
    return [C.c.created_at >= window.start, C.c.created_at < window.end, *kept_conversations(window.filters)]


def kept_conversations(f: Filters) -> list[ColumnElement[bool]]:
    """The conversations with a question that the filters keep, whenever they began."""
    return [C.c.turn_count > 0, *f.on(C)]


def outcome_counts(session: Session, window: Window, *, buckets: Sequence[Bucket] | None = None, by_org: bool = False) -> list[tuple]:
    """Rows (key, outcome, count); key is the bucket number, the org id, or None."""
    if window.rollups and window.filters.org_id is None and not (by_org and buckets):
        return _rolled_up_outcome_counts(session, window, buckets, by_org=by_org)
    outcome = outcome_sql(window.now, window.quiet).label("outcome")
    if buckets:
        table = bucket_table(buckets)
        inner = select(table.c.bucket.label("key"), outcome).select_from(C.join(table, and_(C.c.created_at >= table.c.b_start, C.c.created_at < table.c.b_end)))
    else:
        inner = select((C.c.org_id if by_org else literal_column("NULL")).label("key"), outcome).select_from(C)
    inner = inner.where(*conversation_filters(window)).subquery()
    query = select(inner.c.key, inner.c.outcome, func.count()).group_by(inner.c.key, inner.c.outcome)
    return [tuple(row) for row in session.execute(query)]


_PAST_THE_NEXT = {"hour": timedelta(hours=1), "day": timedelta(days=1), "month": timedelta(days=32)}  # from a start, into the next one


def _floor(instant: datetime, grain: str) -> datetime:
    """The start of the UTC hour, day or month `instant` is in."""
    hour = instant.replace(minute=0, second=0, microsecond=0)
    return {"hour": hour, "day": hour.replace(hour=0), "month": hour.replace(day=1, hour=0)}[grain]


def _ceil(instant: datetime, grain: str) -> datetime:
    """The start of the first UTC hour, day or month at or after `instant`."""
    floor = _floor(instant, grain)
    return floor if floor == instant else _floor(floor + _PAST_THE_NEXT[grain], grain)


def _rollup_ranges(window: Window, buckets: Sequence[Bucket], grain: str) -> Subquery:
    """Per bucket, within the window, [b_start, b_end): the whole UTC hours or days [a_start,
    a_end) the rollup answers for; the edges [b_start, a_start) and [a_end, b_end) (a zone's offset
    of :30 or :45, or of any hours for days) are read from the conversations themselves. By day,
    [a_start, a_end) is read as whole UTC months [m_start, m_end) from the month rollup, plus or
    minus (l_sign, r_sign) the days [l_start, l_end) and [r_start, r_end) from the day rollup
    (`_months_and_days`)."""
    rows = []
    for bucket in buckets:
        b_start, b_end = max(bucket.start, window.start), max(min(bucket.end, window.end), window.start)
        a_start, a_end = _ceil(b_start, grain), _floor(b_end, grain)
        if a_start >= a_end:
            a_start = a_end = b_end  # no whole hour or day: the left edge is the whole bucket
        row: dict[str, datetime | int] = {"b_start": b_start, "b_end": b_end, "a_start": a_start, "a_end": a_end}
        if grain == "day":
            row |= _months_and_days(a_start, a_end)
        rows.append(row)
    return _instant_rows("ranges", rows)


def _months_and_days(a_start: datetime, a_end: datetime) -> dict[str, datetime | int]:
    """Whole UTC days [a_start, a_end) as whole months [m_start, m_end) and, at each end, the days
    between a_start (a_end) and the month boundary next to it, added when inside the months, taken
    away when outside: each end from whichever side of its month has fewer days (from June 2 to
    November 29: June to November minus June 1 and November 30, not 57 days); without whole months
    inside, the days alone when that is fewer."""
    days = {"m_start": a_end, "m_end": a_end, "l_start": a_start, "l_end": a_end, "l_sign": 1, "r_start": a_end, "r_end": a_end, "r_sign": 1}
    best, fewest = days, a_end - a_start
    for m_start in {_ceil(a_start, "month"), _floor(a_start, "month")}:
        for m_end in {_floor(a_end, "month"), _ceil(a_end, "month")}:
            if m_start >= m_end:
                continue
            left = (a_start, m_start, 1) if m_start >= a_start else (m_start, a_start, -1)
            right = (m_end, a_end, 1) if m_end <= a_end else (a_end, m_end, -1)
            read = (left[1] - left[0]) + (right[1] - right[0])
            if read < fewest:
                best, fewest = dict(zip(("m_start", "m_end", "l_start", "l_end", "l_sign", "r_start", "r_end", "r_sign"), (m_start, m_end, *left, *right), strict=True)), read
    return best


def _rolled_up_outcome_counts(session: Session, window: Window, buckets: Sequence[Bucket] | None, *, by_org: bool) -> list[tuple]:
    """`outcome_counts` from the rollups, in one statement (one snapshot): the settled counts and
    the changes not yet compacted over the whole hours (per organization: whole months, summed
    over channels and locales unless filtered by them, plus or minus days at the ends), the
    conversations still in the quiet window moved from their settled class to `open` (the only
    part that depends on `now`), and the edges counted row by row with the outcome rule itself."""
    ranges = _rollup_ranges(window, buckets or [Bucket(window.start.date(), window.start, window.end)], "day" if by_org else "hour")
    f = window.filters
    # (counts, their instant column, the ranges of it they answer for)
    whole = [(ranges.c.a_start, ranges.c.a_end, None)]
    if by_org:
        days = [(ranges.c.l_start, ranges.c.l_end, ranges.c.l_sign), (ranges.c.r_start, ranges.c.r_end, ranges.c.r_sign)]
        months = Z if f.channel is None and f.locale is None else Y  # a quarter of the rows, without the two columns
        sources = [(months, months.c.month, [(ranges.c.m_start, ranges.c.m_end, None)]), (G, G.c.day, days), (D, D.c.hour, whole)]
    else:
        sources = [(H, H.c.hour, whole), (D, D.c.hour, whole)]
    parts: list[Select] = []
    for counts, start, spans in sources:
        for low, high, sign in spans:
            kept = [start >= low, start < high, *f.on(counts)]  # no org_id here: outcome_counts checked
            key = func.nullif(counts.c.org_id, literal("")) if by_org else ranges.c.bucket
            n = counts.c.n if sign is None else counts.c.n * sign
            parts.append(select(key.label("key"), counts.c.settled.label("outcome"), n.label("n")).select_from(counts.join(ranges, and_(*kept))))
    # Found through the last-activity index (a day of conversations). The joins on the ranges keep
    # the window: a range on created_at here too would make SQLite scan them all by that index.
    live = (
        select(C.c.created_at, C.c.org_id, case((and_(C.c.last_turn_answered, ~C.c.last_turn_not_helpful), literal("resolved_assumed")), else_=literal("unanswered")).label("settled"))
        .where(C.c.last_activity_at > window.now - window.quiet, C.c.escalated_at.is_(None), C.c.confirmed_at.is_(None), *kept_conversations(f))
        .cte("live")
        .prefix_with("MATERIALIZED")
    )
    in_whole = and_(live.c.created_at >= ranges.c.a_start, live.c.created_at < ranges.c.a_end)
    for outcome, n in ((live.c.settled, -1), (literal("open"), 1)):
        key = live.c.org_id if by_org else ranges.c.bucket
        parts.append(select(key.label("key"), outcome.label("outcome"), _int(n).label("n")).select_from(live.join(ranges, in_whole)))
    edges = (and_(C.c.created_at >= ranges.c.b_start, C.c.created_at < ranges.c.a_start), and_(C.c.created_at >= ranges.c.a_end, C.c.created_at < ranges.c.b_end))
    for edge in edges:
        key = C.c.org_id if by_org else ranges.c.bucket
        parts.append(select(key.label("key"), outcome_sql(window.now, window.quiet).label("outcome"), _int(1).label("n")).select_from(C.join(ranges, edge)).where(*kept_conversations(f)))
    inner = union_all(*parts).subquery("counted")
    # A month minus its other days leaves 0 for whom only those days had: no row, as counting rows gives.
    query = select(inner.c.key, inner.c.outcome, func.sum(inner.c.n)).group_by(inner.c.key, inner.c.outcome).having(func.sum(inner.c.n) != _int(0))
    return [(key if buckets or by_org else None, outcome, int(n)) for key, outcome, n in session.execute(query)]


def user_rows(checklist: Checklist, window: Window, dialect: str, *, user_id: str | None = None, only: Sequence[str] | Select | None = None) -> Subquery:
    """One row per onboarding user as of `window.now` (not yet limited to the window):
    user_id, org_id, started_at, completed_at, self_serve, involved, s0..sN (step done flags),
    d0..dN (when each step was done, or NULL). `only`: just these users (ids, or a query of ids).

    A user starts with their first checklist event or first conversation with a question;
    a step is done by its first completing event (or its active-minutes rule); the user
    completes when the last required step is done.
    """
    now = window.now
    if user_id is not None:
        own_events, own_conversations = [E.c.user_id == user_id], [C.c.user_id == user_id]
    elif window.filters.org_id is not None:
        # An organization's report builds only its members' state (the cohort keeps the same
        # users: those whose end_users row names the organization).
        members = select(U.c.id).where(U.c.org_id == window.filters.org_id)
        own_events, own_conversations = [E.c.user_id.in_(members)], [C.c.user_id.in_(members)]
    else:
        own_events, own_conversations = [], [C.c.user_id.is_not(None)]
    if only is not None:
        own_events, own_conversations = [*own_events, E.c.user_id.in_(only)], [*own_conversations, C.c.user_id.in_(only)]
    first_event = select(E.c.user_id.label("user_id"), func.min(E.c.occurred_at).label("t")).where(E.c.known, E.c.occurred_at <= now, *own_events).group_by(E.c.user_id)
    # One pass over each user's conversations: first question, first hand-over, used the assistant.
    asked = and_(C.c.turn_count > 0, C.c.created_at <= now)
    used_here = [asked, *replace(window.filters, org_id=None).on(C)]  # the organization is the user's (members above)
    talk = (
        select(
            C.c.user_id.label("user_id"),
            func.min(case((asked, C.c.created_at))).label("first_question"),
            func.min(case((C.c.escalated_at <= now, C.c.escalated_at))).label("first_escalation"),
            func.max(case((and_(*used_here), _int(1)), else_=_int(0))).label("involved"),
        )
        .where(*own_conversations)
        .group_by(C.c.user_id)
        .cte("talk")
    )
    first_question = select(talk.c.user_id, talk.c.first_question.label("t")).where(talk.c.first_question.is_not(None))
    starts = union_all(first_event, first_question).subquery("starts")
    started = select(starts.c.user_id, func.min(starts.c.t).label("started_at")).group_by(starts.c.user_id).cte("started")

    steps = checklist.steps
    names = sorted(checklist.event_names)
    hits: list[Select] = []
    if names:
        step_of = case(*[(E.c.name.in_(step.events), _int(i)) for i, step in enumerate(steps) if step.events])
        hits.append(select(E.c.user_id.label("user_id"), step_of.label("step"), E.c.occurred_at.label("t")).where(E.c.name.in_(names), E.c.occurred_at <= now, *own_events))
    for i, step in enumerate(steps):
        if step.active_minutes is None:
            continue
        rule = step.active_minutes
        # Active minutes: distinct minutes with any event of the user, from their start on.
        per_minute = (
            select(E.c.user_id.label("user_id"), func.min(E.c.occurred_at).label("t"))
            .select_from(E.join(started, started.c.user_id == E.c.user_id))
            .where(E.c.occurred_at >= started.c.started_at, E.c.occurred_at < plus_days(started.c.started_at, rule.within_days, dialect), E.c.occurred_at <= now, product_event(), *own_events)
            .group_by(E.c.user_id, minute_of(E.c.occurred_at, dialect))
            .subquery(f"minutes_{i}")
        )
        ranked = select(per_minute.c.user_id, per_minute.c.t, func.row_number().over(partition_by=per_minute.c.user_id, order_by=per_minute.c.t).label("rn")).subquery(f"ranked_{i}")
        hits.append(select(ranked.c.user_id, _int(i).label("step"), ranked.c.t).where(ranked.c.rn == rule.minutes))
    if hits:
        all_hits = (union_all(*hits) if len(hits) > 1 else hits[0]).subquery("hits")
        done = select(all_hits.c.user_id, all_hits.c.step, func.min(all_hits.c.t).label("done_at")).group_by(all_hits.c.user_id, all_hits.c.step).subquery("done")
    else:
        done = (
            select(literal_column("NULL").label("user_id"), literal_column("NULL").label("step"), literal_column("NULL").label("done_at"))
            .where(literal_column("1") == literal_column("0"))
            .subquery("done")
        )

    required = [i for i, step in enumerate(steps) if step.required]
    flags = [func.max(case((done.c.step == _int(i), _int(1)), else_=_int(0))).label(f"s{i}") for i in range(len(steps))]
    done_times = [func.min(case((done.c.step == _int(i), done.c.done_at))).label(f"d{i}") for i in range(len(steps))]
    per_user = (
        select(
            started.c.user_id,
            started.c.started_at,
            func.sum(case((done.c.step.in_([_int(i) for i in required]), _int(1)), else_=_int(0))).label("required_done"),
            func.max(case((done.c.step.in_([_int(i) for i in required]), done.c.done_at))).label("last_required_at"),
            *flags,
            *done_times,
        )
        .select_from(started.outerjoin(done, done.c.user_id == started.c.user_id))
        .group_by(started.c.user_id, started.c.started_at)
        .subquery("per_user")
    )
    # Typed NULL without required steps: PostgreSQL cannot subtract an untyped NULL from a timestamp.
    completed_at = case((per_user.c.required_done == _int(len(required)), per_user.c.last_required_at)) if required else cast(literal_column("NULL"), UTCDateTime())
    self_serve = case((and_(completed_at.is_not(None), or_(talk.c.first_escalation.is_(None), talk.c.first_escalation >= completed_at)), _int(1)), else_=_int(0))
    return (
        select(
            per_user.c.user_id,
            U.c.org_id,
            per_user.c.started_at,
            completed_at.label("completed_at"),
            self_serve.label("self_serve"),
            func.coalesce(talk.c.involved, _int(0)).label("involved"),
            *[per_user.c[f"s{i}"] for i in range(len(steps))],
            *[per_user.c[f"d{i}"] for i in range(len(steps))],
        )
        .select_from(per_user.outerjoin(U, U.c.id == per_user.c.user_id).outerjoin(talk, talk.c.user_id == per_user.c.user_id))
        .subquery("users")
    )


def onboarding_users(checklist: Checklist, window: Window, dialect: str, *, by_org: bool = False) -> Subquery:
    """`onboarding_user_parts` as one subquery."""
    parts = onboarding_user_parts(checklist, window, dialect, by_org=by_org)
    return (union_all(*parts) if len(parts) > 1 else parts[0]).subquery("onboarding_users")


def onboarding_user_parts(checklist: Checklist, window: Window, dialect: str, *, by_org: bool = False) -> list[Select]:
    """The rows of `onboarding_users`, as the selects whose UNION ALL they are (the settled and
    the live users, or only live ones): a count can be taken over each part before they meet.

    `user_rows`' user_id, org_id, started_at, completed_at, self_serve and involved as of
    `window.now`, and `steps` (bit i: step i done), read from onboarding_states where a user's row
    is valid at now (computed under this checklist, not marked dirty since, facts_until <= now: then
    every `<= now` condition of user_rows holds for all of the user's facts, so the row is what
    user_rows gives) and computed live by user_rows for exactly the other users (dirty, computed
    under another checklist, or with facts after now). A user with neither has no onboarding facts,
    which the dirty marks guarantee.

    With a channel or locale filter `involved` depends on the filter, which the stored rows do not
    know: then every user is computed live. The settled rows' org_id is read only `by_org` (or for
    an organization's report, from its members): a column nobody reads costs a second at a million."""
    columns = ["user_id", "org_id", "started_at", "completed_at", "self_serve", "involved"]

    def computed(users: Subquery) -> Select:
        steps = sum((users.c[f"s{i}"] * _int(1 << i) for i in range(len(checklist.steps))), _int(0))
        return select(*[users.c[name] for name in columns], steps.label("steps"))

    if not window.rollups or window.filters.channel is not None or window.filters.locale is not None:
        return [computed(user_rows(checklist, window, dialect))]
    key = checklist.fingerprint
    stale = or_(S.c.checklist_key != key, S.c.facts_until > window.now)
    stale_ids = select(S.c.user_id).where(stale)
    if window.filters.org_id is not None:
        stale_ids = stale_ids.where(S.c.user_id.in_(select(U.c.id).where(U.c.org_id == window.filters.org_id)))
    live_ids = union(select(M.c.user_id), stale_ids).cte("live_ids")  # read by each part of user_rows
    live = user_rows(checklist, window, dialect, only=select(live_ids.c.user_id))
    # Left out of the settled rows: on PostgreSQL the users computed live (a hash of the few ids),
    # since against onboarding_dirty vacuumed empty its planner rescanned that table for every
    # settled user (0.75 s of the summary at 1M users); on SQLite the dirty marks' primary key.
    computed_live = live_ids if dialect == "postgresql" else M
    one, zero = _int(1), _int(0)
    if window.filters.org_id is not None:  # from the organization's members (an index), as user_rows does
        rows, org = U.join(S, S.c.user_id == U.c.id), U.c.org_id
    elif by_org:
        rows, org = S, S.c.org_id  # kept equal to end_users.org_id by triggers (migration 0012)
    else:
        rows, org = S, cast(literal_column("NULL"), U.c.org_id.type)
    settled = (
        select(
            S.c.user_id,
            org.label("org_id"),
            S.c.started_at,
            S.c.completed_at,
            case((S.c.self_serve, one), else_=zero).label("self_serve"),
            case((S.c.involved, one), else_=zero).label("involved"),
            S.c.steps_done.label("steps"),
        )
        .select_from(rows)
        .where(S.c.checklist_key == key, S.c.facts_until <= window.now, ~exists().where(computed_live.c.user_id == S.c.user_id))
    )
    if window.filters.org_id is not None:
        settled = settled.where(U.c.org_id == window.filters.org_id)
    return [settled, computed(live)]


def cohort(users: Subquery, window: Window) -> CTE:
    """The users who started in the window, with `key` (NULL), as a CTE the rest of a statement
    reads (built once)."""
    return cohort_rows(users, window).cte("cohort")


def cohort_rows(users: FromClause, window: Window, buckets: Sequence[Bucket] | None = None, *, by_org: bool = False, user_ids: bool = True) -> Select:
    """The users who started in the window (per bucket, or per organization), with `key`. Without
    org_id, which only the key by organization needs (`onboarding_users(by_org=True)`), and
    without user_id unless `user_ids`."""
    left_out = ("org_id",) if user_ids else ("org_id", "user_id")
    clauses = [users.c.started_at >= window.start, users.c.started_at < window.end]
    if window.filters.org_id is not None:
        clauses.append(users.c.org_id == window.filters.org_id)
    if buckets:
        clauses += [users.c.started_at >= buckets[0].start, users.c.started_at < buckets[-1].end]
        key = bucket_number(users.c.started_at, buckets)
    else:
        key = users.c.org_id if by_org else literal_column("NULL")
    return select(key.label("key"), *[column for column in users.c if column.name not in left_out]).where(*clauses)


def bucket_number(instant: ColumnElement, buckets: Sequence[Bucket]) -> ColumnElement[int]:
    """The number of the bucket `instant` falls in (contiguous buckets; `instant` within them), by
    a binary search written as nested CASEs: a few comparisons a row, where a join with the bucket
    rows compared each of a million users with every bucket (2.5 s of a weekly report)."""
    if any(a.end != b.start for a, b in zip(buckets, buckets[1:])):
        raise ValueError("buckets must be contiguous")

    def search(low: int, high: int) -> ColumnElement[int]:  # among buckets[low:high]
        if high - low == 1:
            return _int(low)
        middle = (low + high) // 2
        return case((instant < literal(buckets[middle].start, UTCDateTime()), search(low, middle)), else_=search(middle, high))

    return search(0, len(buckets))


PERCENTILES = {"median": (1, 2), "p90": (9, 10)}  # p as a fraction num/den: exact integer positions


def onboarding_counts(
    session: Session, checklist: Checklist, window: Window, *, buckets: Sequence[Bucket] | None = None, by_org: bool = False, times: bool = False, funnel: bool = False
) -> list[dict]:
    """Per key: started, completed, self_serve, involved; with `funnel` also done[i] and
    reached[i]; with `times` the median and p90 hours from start to completion (None without
    completions)."""
    dialect = dialect_of(session)
    parts = [
        cohort_rows(part.subquery(f"users_{i}"), window, buckets, by_org=by_org, user_ids=False).subquery(f"cohort_{i}")
        for i, part in enumerate(onboarding_user_parts(checklist, window, dialect, by_org=by_org))
    ]
    n = len(checklist.steps) if funnel else 0
    # Users by the steps they did first (a few hundred combinations, not a row per user), then the
    # funnel from those groups; without the funnel, straight by key (by organization the
    # combinations are about as many as the users). Each part (settled, live) counted on its own:
    # the settled users are never written aside in one table with the live ones.
    by_steps = union_all(
        *[
            select(
                group.c.key,
                *([group.c.steps] if funnel else []),
                func.count().label("n"),
                func.count(group.c.completed_at).label("completed"),
                func.sum(group.c.self_serve).label("self_serve"),
                func.sum(group.c.involved).label("involved"),
            ).group_by(group.c.key, *([group.c.steps] if funnel else []))
            for group in parts
        ]
    ).subquery("by_steps")

    def users_with(steps: int) -> ColumnElement[int]:
        """How many did every step of the bitmask `steps`."""
        return func.sum(case((by_steps.c.steps.op("&")(_int(steps)) == _int(steps), by_steps.c.n), else_=_int(0)))

    # Funnel: did this step and every required step before it (optional steps never block).
    gates = [sum(1 << j for j in range(i) if checklist.steps[j].required) | 1 << i for i in range(n)]
    counts = (
        select(
            by_steps.c.key.label("key"),
            func.sum(by_steps.c.n),
            func.sum(by_steps.c.completed),
            func.sum(by_steps.c.self_serve),
            func.sum(by_steps.c.involved),
            *[users_with(1 << i) for i in range(n)],
            *[users_with(gate) for gate in gates],
        )
        .group_by(by_steps.c.key)
        .subquery("counts")
    )
    query = select(*counts.c)
    if times:
        hours = [select(group.c.key, hours_between(group.c.started_at, group.c.completed_at, dialect).label("hours")).where(group.c.completed_at.is_not(None)) for group in parts]
        completion = _completion_ranks(union_all(*hours) if len(hours) > 1 else hours[0], dialect, one_key=not buckets and not by_org)
        query = select(*counts.c, *list(completion.c)[1:]).select_from(counts.outerjoin(completion, counts.c.key.is_not_distinct_from(completion.c.key)))
    rows = []
    width = 5 + 2 * n
    for row in session.execute(query):
        values = [int(v or 0) for v in row[1:width]]
        rows.append(
            {
                "key": row[0],
                "started": values[0],
                "completed": values[1],
                "self_serve": values[2],
                "involved": values[3],
                **({"done": values[4 : 4 + n], "reached": values[4 + n :]} if funnel else {}),
                **({"times": _percentiles(row[width:])} if times else {}),
            }
        )
    return rows


def _completion_ranks(completed: Select, dialect: str, *, one_key: bool) -> Subquery:
    """Per key: how many completed (n), and the hours at each percentile (p0, p1, … in PERCENTILES'
    order), from `completed` (key, hours: a row per completed user). PostgreSQL's own
    percentile_cont (one sort: its planner cannot read the union of settled and live users in
    the order of an index); SQLite interpolates between the two nearest ranks, for `one_key`
    from reads limited to those ranks (numbering every row took 2.6 times as long)."""
    done = completed.subquery("completed")
    if dialect == "postgresql":
        fractions = literal_column(f"ARRAY[{', '.join(str(num / den) for num, den in PERCENTILES.values())}]")
        each = select(done.c.key, func.count().label("n"), func.percentile_cont(fractions).within_group(done.c.hours).label("hours")).group_by(done.c.key).subquery("each")
        at = type_coerce(each.c.hours, ARRAY(Float))
        return select(each.c.key, each.c.n, *[at[i + 1].label(f"p{i}") for i in range(len(PERCENTILES))]).subquery("completion")
    if one_key:
        # Not written aside: each rank reads the settled users in hours order (their index,
        # migration 0015) merged with the live ones, sorted; the count is taken once.
        count = select(func.count().label("n")).select_from(done).cte("n").prefix_with("MATERIALIZED")
        n = select(count.c.n).scalar_subquery()
        columns = [_nearest_ranks(done, num, den, n).label(f"p{i}") for i, (num, den) in enumerate(PERCENTILES.values())]
        return select(literal_column("NULL").label("key"), func.nullif(n, _int(0)).label("n"), *columns).subquery("completion")
    ranked = (
        select(
            done.c.key,
            done.c.hours,
            (func.row_number().over(partition_by=done.c.key, order_by=done.c.hours) - _int(1)).label("rank"),
            func.count().over(partition_by=done.c.key).label("n"),
        )
    ).subquery("ranked")
    columns = []
    for i, (num, den) in enumerate(PERCENTILES.values()):
        position = (ranked.c.n - _int(1)) * _int(num)
        low = func.max(case((ranked.c.rank == position // _int(den), ranked.c.hours)))  # floor: integer division
        high = func.max(case((ranked.c.rank == (position + _int(den - 1)) // _int(den), ranked.c.hours)))  # ceiling
        columns.append(_between(low, high, func.max(ranked.c.n), num, den).label(f"p{i}"))
    return select(ranked.c.key, func.max(ranked.c.n).label("n"), *columns).group_by(ranked.c.key).subquery("completion")


def _between(low: ColumnElement, high: ColumnElement, n: ColumnElement, num: int, den: int) -> ColumnElement[float]:
    """The value at fraction num/den of n sorted values, interpolated linearly between the two
    nearest ranks `low` and `high` as PostgreSQL's percentile_cont does."""
    return low + (high - low) * (((n - _int(1)) * _int(num) % _int(den)) / literal_column(f"{den}.0"))


def _nearest_ranks(values: FromClause, num: int, den: int, n: ColumnElement[int] | None = None) -> ColumnElement[float]:
    """`_between` the values.hours at the ranks floor((n − 1)·num/den) and the one after,
    from a sort limited to those two rows (NULL for no values). `n`: their count, if known."""
    if n is None:
        n = select(func.count()).select_from(values).scalar_subquery()
    two = select(values.c.hours).order_by(values.c.hours).limit(_int(2)).offset((n - _int(1)) * _int(num) // _int(den)).subquery()
    return select(_between(func.min(two.c.hours), func.max(two.c.hours), n, num, den)).scalar_subquery()


def _percentiles(values: Sequence) -> dict[str, float] | None:
    """(n, p0, p1, …) of `_completion_ranks` by percentile name; None without completions."""
    if values[0] is None:
        return None
    return {name: float(hours) for name, hours in zip(PERCENTILES, values[1:], strict=True)}


def open_escalations_by_org(session: Session, window: Window) -> dict[str | None, int]:
    """`open_escalations` (below) per organization: the same hand-overs, counted by their conversation's organization."""
    inner = _open_escalations(window, by_org=True).subquery()
    return {row[0]: int(row[1]) for row in session.execute(select(inner.c.org_id, func.count()).group_by(inner.c.org_id))}


def open_escalations(session: Session, window: Window) -> int:
    """Hand-overs not closed as of `window.now`, of the conversations the filters keep, whenever
    they began (a state, not a count over the period)."""
    inner = _open_escalations(window, by_org=False).subquery()
    return int(session.execute(select(func.count()).select_from(inner)).scalar_one())


def _open_escalations(window: Window, *, by_org: bool) -> Select:
    # The hand-over facts hold the conversation's columns: no join with every conversation.
    source, handover, conversation = (K, K, K) if window.rollups else (X.join(C, C.c.id == X.c.conversation_id), X, C)
    still_open = [handover.c.created_at <= window.now, or_(handover.c.closed_at.is_(None), handover.c.closed_at > window.now)]
    return select((conversation.c.org_id if by_org else literal_column("NULL")).label("org_id")).select_from(source).where(*still_open, *window.filters.on(conversation))


def _facts_of_the_period(window: Window, started: ColumnElement | None = None) -> list[ColumnElement[bool]]:
    """The hand-over facts (made by now) of the conversations the period counts; `started`: the
    expression that stands for their started_at."""
    started = K.c.started_at if started is None else started
    return [started >= window.start, started < window.end, K.c.asked, K.c.created_at <= window.now, *window.filters.on(K)]


def _handovers_of_the_period(window: Window) -> CTE:
    """The hand-overs (made by now) of the conversations the period counts: id, conversation_id,
    created_at, closed_at, the conversation's escalated_at, first_reply (the first person's reply
    by now, or NULL) and sole (its conversation's only hand-over; false with `rollups` off). From the
    hand-over facts, or with `rollups` off computed from the hand-overs, their conversations and
    replies (the reference the facts are tested against)."""
    now = window.now
    if window.rollups:
        kept = _facts_of_the_period(window)
        first_reply = case((K.c.first_reply_at <= now, K.c.first_reply_at))
        columns = [K.c.escalation_id.label("id"), K.c.conversation_id, K.c.created_at, K.c.closed_at, K.c.escalated_at, first_reply.label("first_reply"), K.c.sole]
        # PostgreSQL: read where each part needs it (writing a million rows aside took a second).
        return select(*columns).where(*kept).cte("mine").prefix_with("MATERIALIZED", dialect="sqlite").prefix_with("NOT MATERIALIZED", dialect="postgresql")
    replies = select(R.c.escalation_id, func.min(R.c.created_at).label("t")).where(R.c.created_at <= now).group_by(R.c.escalation_id).subquery("first_reply")
    columns = [X.c.id, X.c.conversation_id, X.c.created_at, X.c.closed_at, C.c.escalated_at, replies.c.t.label("first_reply"), false().label("sole")]
    source = X.join(C, C.c.id == X.c.conversation_id).outerjoin(replies, replies.c.escalation_id == X.c.id)
    return select(*columns).select_from(source).where(X.c.created_at <= now, *conversation_filters(window)).cte("mine")


def handover_results(session: Session, window: Window) -> dict[str, float | int | None]:
    """What people did with the hand-overs of the period's conversations, as of now:
    `resolved_by_person`, the conversations handed over whose every hand-over a person closed;
    `first_reply` and `close`, the median hours from the hand-over to the first person's reply
    (those with a reply) and to its close (those closed). One statement, so one snapshot: read
    off the facts' hours indexes, or for the reference finding those hand-overs once."""
    dialect = dialect_of(session)
    row = session.execute(_in_hours_order(window, dialect) if window.rollups else _in_one_pass(window, dialect)).one()
    return {"resolved_by_person": int(row[0]), "first_reply": None if row[1] is None else float(row[1]), "close": None if row[2] is None else float(row[2])}


def _in_one_pass(window: Window, dialect: str) -> Select:
    """`handover_results`' statement for the reference: the period's hand-overs found once (`mine`)."""
    now = window.now
    mine = _handovers_of_the_period(window)
    closed = and_(mine.c.closed_at.is_not(None), mine.c.closed_at <= now)
    handed_over = and_(mine.c.escalated_at.is_not(None), mine.c.escalated_at <= now)
    sole_closed = and_(mine.c.sole, handed_over, closed)
    several = _several_all_closed(mine, now)
    to_reply, to_close = hours_between(mine.c.created_at, mine.c.first_reply, dialect), hours_between(mine.c.created_at, mine.c.closed_at, dialect)
    parts = (("to_reply", select(to_reply.label("hours")).where(mine.c.first_reply.is_not(None))), ("to_close", select(to_close.label("hours")).where(closed)))
    medians = [_median(hours.cte(name).prefix_with("MATERIALIZED", dialect="sqlite"), dialect) for name, hours in parts]
    return select(select(func.count()).select_from(mine).where(sole_closed).scalar_subquery() + several, *medians)


def _several_all_closed(facts: FromClause, now: datetime, *kept: ColumnElement[bool]) -> ColumnElement[int]:
    """`resolved_by_person` among the conversations handed over more than once: grouped by
    conversation (a sole hand-over is its conversation, counted as it is)."""
    closed = and_(facts.c.closed_at.is_not(None), facts.c.closed_at <= now)
    # `NOT sole` as the partial index ix_handover_facts_shared says it: SQLite writes a boolean's
    # negation `sole = 0`, which its planner does not match to that index.
    shared = ~type_coerce(facts.c.sole, Integer)
    all_closed = (
        select(facts.c.conversation_id)
        .where(shared, facts.c.escalated_at.is_not(None), facts.c.escalated_at <= now, *kept)
        .group_by(facts.c.conversation_id)
        .having(func.max(case((closed, _int(0)), else_=_int(1))) == _int(0))
        .subquery("all_closed")
    )
    return select(func.count()).select_from(all_closed).scalar_subquery()


def _in_hours_order(window: Window, dialect: str) -> Select:
    """`handover_results`' statement, off the facts' hours indexes (migrations 0015, 0017): each
    count a scan of an index alone, taken once; each median the two rows at its middle rank (no
    sort). On SQLite a no-op unary plus on started_at keeps the planner off
    ix_handover_facts_started, which it prefers without range statistics and which costs a lookup
    per fact."""
    now = window.now
    started = UnaryExpression(K.c.started_at, operator=operators.custom_op("+"), type_=K.c.started_at.type) if dialect == "sqlite" else None
    kept = _facts_of_the_period(window, started)
    replied, closed = [K.c.first_reply_at.is_not(None), K.c.first_reply_at <= now, *kept], [K.c.closed_at.is_not(None), K.c.closed_at <= now, *kept]
    handed_over = and_(K.c.escalated_at.is_not(None), K.c.escalated_at <= now)
    counts = (
        select(
            select(func.count()).where(*replied).scalar_subquery().label("replied"),
            func.count().label("closed"),
            func.sum(case((and_(K.c.sole, handed_over), _int(1)), else_=_int(0))).label("sole_closed"),
        )
        .where(*closed)
        .cte("counts")
        .prefix_with("MATERIALIZED")
    )
    to_reply = select(hours_between(K.c.created_at, K.c.first_reply_at, dialect).label("hours")).where(*replied).subquery("to_reply")
    to_close = select(hours_between(K.c.created_at, K.c.closed_at, dialect).label("hours")).where(*closed).subquery("to_close")
    several = _several_all_closed(K, now, *_facts_of_the_period(window))  # through ix_handover_facts_shared
    n_replied, n_closed = (select(column).scalar_subquery() for column in (counts.c.replied, counts.c.closed))
    sole_closed = select(func.coalesce(counts.c.sole_closed, _int(0))).scalar_subquery()
    return select(sole_closed + several, _nearest_ranks(to_reply, 1, 2, n_replied), _nearest_ranks(to_close, 1, 2, n_closed))


def _median(values: CTE, dialect: str) -> ColumnElement:
    """The median of `values.hours` (NULL for none), as `_completion_ranks` takes percentiles."""
    if dialect == "postgresql":
        return select(func.percentile_cont(literal_column("0.5")).within_group(values.c.hours)).scalar_subquery()
    return _nearest_ranks(values, 1, 2)


def unknown_event_names(session: Session, window: Window) -> list[tuple[str, int]]:
    """The names the checklist did not know of the product's events in the window, with how many,
    most first. From the days' rollup (migration 0016) for the window's whole UTC days and the
    events for its partial first and last day; for an organization, from its events alone."""
    first, last = _ceil(window.start, "day"), _floor(window.end, "day")  # the whole UTC days inside
    if window.rollups and window.filters.org_id is None and first < last:
        whole_days = [select(rollup.c.name, rollup.c.n).where(rollup.c.day >= first, rollup.c.day < last) for rollup in (V, W)]
        counts = union_all(_unknown_events(window.start, first, None), *whole_days, _unknown_events(last, window.end, None)).subquery("counts")
    else:
        counts = _unknown_events(window.start, window.end, window.filters.org_id).subquery("counts")
    n = func.sum(counts.c.n)
    query = select(counts.c.name, n).group_by(counts.c.name).having(n != _int(0)).order_by(n.desc(), counts.c.name)
    return [(name, int(count)) for name, count in session.execute(query)]


def _unknown_events(start: datetime, end: datetime, org_id: str | None) -> Select:
    """The product's events in [start, end) of names the checklist did not know, counted by name."""
    query = select(E.c.name, func.count().label("n")).where(~E.c.known, product_event(), E.c.occurred_at >= start, E.c.occurred_at < end)
    if org_id is not None:
        query = query.where(E.c.org_id == org_id)
    return query.group_by(E.c.name)


def entry_stats(session: Session, window: Window) -> list[dict]:
    """Per entry shown as an answer: times shown, votes, and escalations at or after showing it."""
    helpful = func.sum(case((F.c.helpful.is_(True), _int(1)), else_=_int(0)))
    not_helpful = func.sum(case((F.c.helpful.is_(False), _int(1)), else_=_int(0)))
    escalated_after = func.sum(case((C.c.escalated_at >= T.c.created_at, _int(1)), else_=_int(0)))
    query = (
        select(T.c.entry_id, func.count(T.c.id), helpful, not_helpful, escalated_after)
        .select_from(T.join(C, C.c.id == T.c.conversation_id).outerjoin(F, F.c.turn_id == T.c.id))
        .where(T.c.answered, T.c.entry_id.is_not(None), *conversation_filters(window))
        .group_by(T.c.entry_id)
        .order_by(func.count(T.c.id).desc(), T.c.entry_id)
    )
    return [{"entry_id": row[0], "shown": int(row[1]), "helpful": int(row[2] or 0), "not_helpful": int(row[3] or 0), "escalated_after": int(row[4] or 0)} for row in session.execute(query)]


def gap_questions(session: Session, window: Window, limit: int) -> list[dict]:
    """The latest questions that went unanswered (declined or voted not helpful) or were handed
    over, newest first, at most `limit` (the input of the grouping by meaning). Quiet turns are
    messages for the team after a hand-over, not questions the bot failed: never a gap; nor is a
    "Did you mean…" the user answered with a pick (the pick is the answer)."""
    escalated_turns = select(X.c.turn_id).where(X.c.turn_id.is_not(None))
    escalated = T.c.id.in_(escalated_turns)
    picked = T.alias("picked")
    answered_by_a_pick = exists().where(picked.c.picked_from == T.c.id, picked.c.answered)  # "Did you mean…" then a pick
    declined = and_(~T.c.answered, ~T.c.quiet, ~answered_by_a_pick)
    unanswered = or_(declined, F.c.helpful.is_(False))
    query = (
        select(T.c.question, func.coalesce(T.c.locale, C.c.locale).label("locale"), case((unanswered, _int(1)), else_=_int(0)), case((escalated, _int(1)), else_=_int(0)))
        .select_from(T.join(C, C.c.id == T.c.conversation_id).outerjoin(F, F.c.turn_id == T.c.id))
        .where(~T.c.quiet, or_(unanswered, escalated), *conversation_filters(window))
        .order_by(T.c.created_at.desc(), T.c.id)
        .limit(limit)
    )
    return [{"question": row[0], "locale": row[1], "unanswered": bool(row[2]), "escalated": bool(row[3])} for row in session.execute(query)]


def user_steps_done(session: Session, checklist: Checklist, user_id: str, now: datetime, quiet: timedelta) -> list[bool]:
    if not checklist.steps:
        return []  # no checklist written yet: nothing to be done
    window = Window(start=now, end=now, now=now, quiet=quiet)
    users = user_rows(checklist, window, dialect_of(session), user_id=user_id)
    row = session.execute(select(*[users.c[f"s{i}"] for i in range(len(checklist.steps))]).where(users.c.user_id == user_id)).first()
    return [bool(v) for v in row] if row is not None else [False] * len(checklist.steps)
