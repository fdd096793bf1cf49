"""The figures of the monthly report (issue 8), for the whole department or some offices.

Everything is counted in SQL (one aggregate query per group of figures, range conditions on
the indexed timestamps), so a month of a city's 12345 line costs a few queries, not a loop over
its cases. Only the month's overdue list, the durations behind the medians (one column each)
and a bounded sample of the month's texts (for the top words) are read into Python.

A report for a past month does not change when generated later: "open at month end" and the
status at month end are decided from timestamps (received, answered, closed) and from the audit
trail (reopened for re-handling), never from the case's status today. What is not history:
spam (a case marked spam later leaves the month's figures, as a correction does), the office
(a case counts for the office that has it now) and the answer deadline (the one recorded now,
extension included). ``DEFINITIONS`` says how each figure is counted; it is part of the report.

Beside this module: the months and their instant ranges (:mod:`shared.reports.months`), the
top words (:mod:`shared.reports.words`) and the definitions
(:mod:`shared.reports.definitions`).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, false, func, or_, select, text, true
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from shared.db import SHANGHAI, utcnow
from shared.models import (
    AuditEvent,
    Case,
    CaseCluster,
    CaseStatus,
    Category,
    Channel,
    Notice,
    NoticeItem,
    Office,
    Rating,
    RatingValue,
    Reply,
    ReplyKind,
    ReplyState,
)
from shared.operations import deadlines
from shared.operations.duplicates import label_for
from shared.reports import words
from shared.reports.definitions import DEFINITIONS
from shared.reports.months import Period, shift_month

TOP_CLUSTERS = 20
DAY_SECONDS = 86_400

#: The steps of :func:`monthly_report`, in order, as ``progress`` is told of them.
STEPS = (
    "received",
    "replies",
    "closed",
    "month_end",
    "ratings",
    "events",
    "daily",
    "offices",
    "items",
    "overdue_cases",
    "clusters",
    "words",
    "change",
)

#: The audit actions the report counts.
REOPENED_ACTION = "case.reopened"

EXTENSION_ACTION = "case.extension_approved"


def _scope(office_ids: Sequence[int] | None) -> ColumnElement[bool]:
    """The cases the report may count: not spam, and of the scoped offices when given."""
    not_spam = Case.status != CaseStatus.SPAM
    if office_ids is None:
        return not_spam
    if not office_ids:
        return false()
    return and_(not_spam, Case.office_id.in_(office_ids))


def _reopened_unanswered(period: Period) -> Any:
    """Ids of the cases reopened for re-handling before the month end and not answered again
    between their last reopening and the month end: open again at month end."""
    reopened = (
        select(AuditEvent.case_id, func.max(AuditEvent.at).label("reopened_at"))
        .where(
            AuditEvent.action == REOPENED_ACTION,
            AuditEvent.at < period.end,
            AuditEvent.case_id.is_not(None),
        )
        .group_by(AuditEvent.case_id)
        .subquery()
    )
    answered = (
        select(Reply.case_id, func.max(Reply.sent_at).label("answered_at"))
        .where(
            Reply.kind == ReplyKind.ANSWER,
            Reply.state == ReplyState.SENT,
            Reply.sent_at < period.end,
            Reply.case_id.in_(select(reopened.c.case_id)),
        )
        .group_by(Reply.case_id)
        .subquery()
    )
    return (
        select(reopened.c.case_id)
        .outerjoin(answered, answered.c.case_id == reopened.c.case_id)
        .where(
            or_(
                answered.c.answered_at.is_(None),
                answered.c.answered_at < reopened.c.reopened_at,
            )
        )
    )


#: Up to this many reopened cases are excluded by their ids, more by a subquery.
_MAX_LISTED_IDS = 2_000


def _not_reopened_at_end(session: Session, period: Period) -> ColumnElement[bool]:
    """Not among the cases reopened and unanswered at month end: a few ids, found once."""
    reopened = _reopened_unanswered(period)
    ids = session.scalars(reopened.limit(_MAX_LISTED_IDS + 1)).all()
    if len(ids) > _MAX_LISTED_IDS:
        # An anti-join: PostgreSQL plans NOT IN (subquery) as a filter that runs the
        # subquery's plan again and again (benchmarks/monthly_report.py: 14 minutes and more).
        listed = reopened.subquery()
        return ~select(listed.c.case_id).where(listed.c.case_id == Case.id).exists()
    return Case.id.not_in(ids) if ids else true()


@dataclass(frozen=True)
class _AtMonthEnd:
    """The conditions on a case received before the month end, as it stood at month end."""

    closed: ColumnElement[bool]
    answered: ColumnElement[bool]
    open: ColumnElement[bool]
    overdue: ColumnElement[bool]
    accepted: ColumnElement[bool]

    @classmethod
    def of(cls, session: Session, period: Period) -> _AtMonthEnd:
        closed = and_(Case.closed_at.is_not(None), Case.closed_at < period.end)
        answered = and_(
            Case.first_replied_at.is_not(None),
            Case.first_replied_at < period.end,
            _not_reopened_at_end(session, period),
        )
        still_open = and_(~closed, ~answered)
        overdue = and_(still_open, Case.reply_due.is_not(None), Case.reply_due < period.end)
        # Being dealt with: accepted, or answered once and reopened for re-handling since.
        accepted = or_(
            and_(Case.accepted_at.is_not(None), Case.accepted_at < period.end),
            and_(Case.first_replied_at.is_not(None), Case.first_replied_at < period.end),
        )
        return cls(closed, answered, still_open, overdue, accepted)


def monthly_report(
    session: Session,
    month: date,
    *,
    offices: Sequence[Office] | None = None,
    language: str = "zh",
    progress: Callable[[str], None] | None = None,
    now: datetime | None = None,
    reported: Callable[[date], dict | None] | None = None,
) -> dict:
    """The monthly report of ``month`` (the first day of an Asia/Shanghai month) as a
    JSON-ready dict; ``offices`` limits every figure to the cases those offices handle.
    ``language`` is kept for labels that are data; offices and items have one name today.
    ``reported(month)``: the report of an earlier month of the same scope as it was made then
    (the archive), if kept; the comparison with it takes its figures instead of counting
    that month again."""
    step = progress or (lambda _name: None)
    now = now or utcnow()
    if session.get_bind().dialect.name == "postgresql":
        # JIT compiling costs more than it saves on these one-off aggregates (0.3-0.4 s of
        # a 0.7 s statement at a million cases); for this transaction only.
        session.execute(text("SET LOCAL jit = off"))
    period = Period.of(month)
    office_ids = None if offices is None else sorted({office.id for office in offices})
    scope = _scope(office_ids)

    step("received")
    intake = _received(session, period, office_ids)
    step("replies")
    replies = _replied(session, period, scope)
    step("closed")
    closing = _closed(session, period, scope)
    step("month_end")
    at_end = _AtMonthEnd.of(session, period)
    month_end = _month_end(session, period, scope, at_end)
    step("ratings")
    ratings = _ratings(session, period, scope)
    step("events")
    reopened = _events(session, period, scope, REOPENED_ACTION, distinct_cases=True)
    extended = _events(session, period, scope, EXTENSION_ACTION, distinct_cases=False)
    step("daily")
    daily = _daily(session, period, scope)
    step("offices")
    by_office, ranking, names = _offices(session, offices, intake, replies, month_end, ratings)
    step("items")
    by_item, items = _items(session, intake.by_item)
    step("overdue_cases")
    overdue_cases = _overdue_cases(session, period, scope, at_end)
    step("clusters")
    clusters = _clusters(session, period, scope)
    step("words")
    top_words, words_from = words.top_words(session, period, scope)
    step("change")
    headline = {
        "received": intake.received,
        "replied": replies.replied,
        "on_time_rate": _rate(replies.on_time, replies.replied),
        "satisfaction_rate": ratings.rate,
        "overdue_open": month_end.overdue_open,
    }
    previous, last_year = (
        _earlier_headline(session, shift_month(period.month, -months), office_ids, reported)
        for months in (1, 12)
    )

    return {
        "month": f"{period.month:%Y-%m}",
        "received": intake.received,
        "by_channel": intake.by_channel,
        "by_office": by_office,
        "by_item": by_item,
        "replied": replies.replied,
        "on_time_rate": headline["on_time_rate"],
        "median_reply_days": _days(_median(replies.durations)),
        "overdue_open": month_end.overdue_open,
        "satisfaction_rate": ratings.rate,
        "scope": {
            "offices": None if offices is None else sorted(o.code for o in offices),
            "names": names,
        },
        "generated_at": _iso(now),
        "period": {"start": _iso(period.start), "end": _iso(period.end)},
        "spam": intake.spam,
        "duplicates": intake.duplicates,
        "by_category": intake.by_category,
        "items": items,
        "status_at_month_end": month_end.status,
        "backlog": month_end.backlog,
        "on_time": replies.on_time,
        "mean_reply_days": _days(_mean(replies.durations)),
        "median_close_days": _days(_median(closing.durations)),
        "mean_close_days": _days(_mean(closing.durations)),
        "closed": closing.closed,
        "completed_on_time_rate": _rate(closing.on_time, closing.closed),
        "ratings": ratings.counts,
        "reopened": reopened,
        "extended": extended,
        "ranking": ranking,
        "change": {
            metric: _change(metric, value, previous[metric], last_year[metric])
            for metric, value in headline.items()
        },
        "daily": daily,
        "top_words": top_words,
        "words_from": words_from,
        "clusters": clusters,
        "overdue_cases": overdue_cases,
        "definitions": dict(DEFINITIONS),
    }


@dataclass
class _Intake:
    received: int
    spam: int
    duplicates: int
    by_channel: dict[str, int]
    by_category: dict[str, int]
    by_item: dict[int, int]
    by_office: dict[int, int]


def _received(session: Session, period: Period, office_ids: Sequence[int] | None) -> _Intake:
    """The month's cases, counted by channel, category, item and office in one query."""
    in_offices = true() if office_ids is None else Case.office_id.in_(office_ids or [-1])
    is_spam = Case.status == CaseStatus.SPAM
    rows = session.execute(
        select(
            Case.channel,
            Case.category,
            Case.notice_item_id,
            Case.office_id,
            func.count(case((~is_spam, 1))),
            func.count(case((is_spam, 1))),
            func.count(case((and_(~is_spam, Case.duplicate_of_id.is_not(None)), 1))),
        )
        .where(period.contains(Case.received_at), in_offices)
        .group_by(Case.channel, Case.category, Case.notice_item_id, Case.office_id)
    ).all()
    result = _Intake(
        received=0,
        spam=0,
        duplicates=0,
        by_channel=dict.fromkeys(Channel.ALL, 0),
        by_category=dict.fromkeys((*Category.ALL, "none"), 0),
        by_item=Counter(),
        by_office=Counter(),
    )
    for channel, category, item_id, office_id, received, spam, duplicates in rows:
        result.received += received
        result.spam += spam
        result.duplicates += duplicates
        if received:
            result.by_channel[channel] = result.by_channel.get(channel, 0) + received
            key = category if category in Category.ALL else "none"
            result.by_category[key] += received
            if item_id is not None:
                result.by_item[item_id] += received
            if office_id is not None:
                result.by_office[office_id] += received
    return result


@dataclass
class _Replies:
    replied: int
    on_time: int
    durations: list[float]
    by_office: dict[int, tuple[int, int]]  # office id: (replied, on time)


def _replied(
    session: Session, period: Period, scope: ColumnElement[bool], *, durations: bool = True
) -> _Replies:
    """The cases whose first answer was sent in the month, and whether it met the deadline.

    The deadline recorded now is the one the answer had to meet, except for a case reopened
    for re-handling later: its deadline is now the re-handling one, so the deadline of the
    first answer is found again from the audit trail and the case's policy (few cases)."""
    in_month = and_(period.contains(Case.first_replied_at), scope)
    on_time = and_(
        Case.reopened_count == 0,
        Case.reply_due.is_not(None),
        Case.first_replied_at <= Case.reply_due,
    )
    rows = session.execute(
        select(Case.office_id, func.count(), func.count(case((on_time, 1))))
        .where(in_month)
        .group_by(Case.office_id)
    ).all()
    counts: dict[int | None, list[int]] = {office: [n, ok] for office, n, ok in rows}
    for office_id, met in _reopened_answers_on_time(session, in_month):
        counts[office_id][1] += met
    seconds = (
        _durations(session, Case.received_at, Case.first_replied_at, in_month) if durations else []
    )
    return _Replies(
        replied=sum(n for n, _ok in counts.values()),
        on_time=sum(ok for _n, ok in counts.values()),
        durations=seconds,
        by_office={office: (n, ok) for office, (n, ok) in counts.items() if office is not None},
    )


def _reopened_answers_on_time(
    session: Session, in_month: ColumnElement[bool]
) -> Iterable[tuple[int | None, int]]:
    """(office id, 1 if on time else 0) for each reopened case first answered in the month.

    The deadline the first answer had to meet: the one an extension granted before it set
    (the audit trail keeps it), else the policy's limit from acceptance (or from receipt)."""
    reopened = session.execute(
        select(
            Case.id,
            Case.office_id,
            Case.first_replied_at,
            Case.received_at,
            Case.accepted_at,
            Case.notice_id,
            Case.category,
        ).where(in_month, Case.reopened_count > 0)
    ).all()
    extended: dict[int, list[tuple[datetime, int, dict]]] = defaultdict(list)
    for chunk in _chunks([row.id for row in reopened], 1_000):
        for case_id, at, event_id, detail in session.execute(
            select(AuditEvent.case_id, AuditEvent.at, AuditEvent.id, AuditEvent.detail).where(
                AuditEvent.action == EXTENSION_ACTION, AuditEvent.case_id.in_(chunk)
            )
        ):
            extended[case_id].append((at, event_id, detail or {}))
    limits: dict[tuple, deadlines.Limits] = {}
    due_after: dict[tuple, datetime] = {}
    for row in reopened:
        granted = sorted(e for e in extended[row.id] if e[0] <= row.first_replied_at)
        if granted and granted[-1][2].get("reply_due"):
            due = datetime.fromisoformat(granted[-1][2]["reply_due"])
        else:
            key = (row.notice_id, row.category)
            if key not in limits:
                limits[key] = deadlines.limits_for(session, *key)
            policy = limits[key]
            accepted = row.accepted_at
            start = accepted if accepted and accepted <= row.first_replied_at else row.received_at
            day_key = (start.astimezone(SHANGHAI).date(), policy.reply_days, policy.working_days)
            if day_key not in due_after:  # deadlines depend on the day only
                due_after[day_key] = deadlines.add_days(
                    session, start, policy.reply_days, working=policy.working_days
                )
            due = due_after[day_key]
        yield row.office_id, int(row.first_replied_at <= due)


def _chunks(values: list, size: int) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


@dataclass
class _Closing:
    closed: int
    on_time: int
    durations: list[float]


def _closed(session: Session, period: Period, scope: ColumnElement[bool]) -> _Closing:
    """The cases closed (or refused) in the month, and whether they were dealt with in time:
    by their last answer, or by the closing itself when never answered."""
    in_month = and_(period.contains(Case.closed_at), scope)
    last_answer = (
        select(func.max(Reply.sent_at))
        .where(
            Reply.case_id == Case.id,
            Reply.kind == ReplyKind.ANSWER,
            Reply.state == ReplyState.SENT,
        )
        .correlate(Case)
        .scalar_subquery()
    )
    dealt_with = func.coalesce(last_answer, Case.first_replied_at, Case.closed_at)
    closed, on_time = session.execute(
        select(
            func.count(),
            func.count(case((and_(Case.reply_due.is_not(None), dealt_with <= Case.reply_due), 1))),
        ).where(in_month)
    ).one()
    durations = _durations(session, Case.received_at, Case.closed_at, in_month)
    return _Closing(closed, on_time, durations)


def _durations(session: Session, start_column, end_column, condition) -> list[float]:
    """Seconds from one timestamp to the other for the matching cases, sorted; subtracted by
    the database (tens of thousands of timestamps turned into Python objects cost a second)."""
    if session.get_bind().dialect.name == "postgresql":
        seconds = func.extract("epoch", end_column - start_column)
    else:  # SQLite stores UTC text that julianday() reads
        seconds = (func.julianday(end_column) - func.julianday(start_column)) * DAY_SECONDS
    return sorted(
        float(value)
        for value in session.scalars(
            select(seconds).where(condition).execution_options(yield_per=5_000)
        )
    )


@dataclass
class _MonthEnd:
    status: dict[str, int]
    backlog: int
    overdue_open: int
    overdue_by_office: dict[int, int]


def _not_closed_at_end(period: Period, scope: ColumnElement[bool]) -> ColumnElement[bool]:
    """Received before the month end and not closed by then: the few cases that may have
    been open at month end (the index on closed_at finds them without reading the rest)."""
    return and_(
        Case.received_at < period.end,
        or_(Case.closed_at.is_(None), Case.closed_at >= period.end),
        scope,
    )


def _month_end(
    session: Session, period: Period, scope: ColumnElement[bool], at_end: _AtMonthEnd
) -> _MonthEnd:
    """The backlog and the overdue cases at month end, and where the month's own cases
    stood at month end."""
    rows = session.execute(
        select(
            Case.office_id,
            func.count(case((at_end.open, 1))),
            func.count(case((at_end.overdue, 1))),
        )
        .where(_not_closed_at_end(period, scope))
        .group_by(Case.office_id)
    ).all()
    overdue_by_office = {office: overdue for office, _n, overdue in rows if office is not None}
    status_row = session.execute(
        select(
            func.count(case((at_end.closed, 1))),
            func.count(case((and_(~at_end.closed, at_end.answered), 1))),
            func.count(case((and_(at_end.open, at_end.accepted), 1))),
            func.count(case((and_(at_end.open, ~at_end.accepted), 1))),
        ).where(period.contains(Case.received_at), scope)
    ).one()
    status = dict(zip(("closed", "answered", "in_progress", "waiting"), status_row, strict=True))
    return _MonthEnd(
        status=status,
        backlog=sum(row[1] for row in rows),
        overdue_open=sum(row[2] for row in rows),
        overdue_by_office=overdue_by_office,
    )


@dataclass
class _Ratings:
    counts: dict[str, int]
    rate: float | None
    by_office: dict[int, tuple[int, int]]  # office id: (satisfied or basically, all)


def _ratings(session: Session, period: Period, scope: ColumnElement[bool]) -> _Ratings:
    rows = session.execute(
        select(Case.office_id, Rating.value, func.count())
        .join(Case, Case.id == Rating.case_id)
        .where(period.contains(Rating.created_at), scope)
        .group_by(Case.office_id, Rating.value)
    ).all()
    counts = dict.fromkeys(RatingValue.ALL, 0)
    by_office: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for office_id, value, count in rows:
        counts[value] = counts.get(value, 0) + count
        if office_id is not None:
            by_office[office_id][1] += count
            if value != RatingValue.UNSATISFIED:
                by_office[office_id][0] += count
    content = counts[RatingValue.SATISFIED] + counts[RatingValue.BASICALLY_SATISFIED]
    return _Ratings(
        counts,
        _rate(content, sum(counts.values())),
        {office: (good, all_) for office, (good, all_) in by_office.items()},
    )


def _events(
    session: Session,
    period: Period,
    scope: ColumnElement[bool],
    action: str,
    *,
    distinct_cases: bool,
) -> int:
    counted = func.count(func.distinct(AuditEvent.case_id)) if distinct_cases else func.count()
    return session.scalar(
        select(counted)
        .select_from(AuditEvent)
        .join(Case, Case.id == AuditEvent.case_id)
        .where(AuditEvent.action == action, period.contains(AuditEvent.at), scope)
    )


def _daily(session: Session, period: Period, scope: ColumnElement[bool]) -> list[dict]:
    """Received and first answered per Asia/Shanghai day: one row of day columns each."""
    days = period.days()
    # Asia/Shanghai keeps no daylight saving time: every day is 24 hours from the start.
    bounds = [period.start + timedelta(days=i) for i in range(len(days) + 1)]

    def per_day(column) -> list[int]:
        columns = [
            func.count(case((and_(column >= bounds[i], column < bounds[i + 1]), 1)))
            for i in range(len(days))
        ]
        row = session.execute(select(*columns).where(period.contains(column), scope)).one()
        return list(row)

    received = per_day(Case.received_at)
    replied = per_day(Case.first_replied_at)
    return [
        {"date": day.isoformat(), "received": received[i], "replied": replied[i]}
        for i, day in enumerate(days)
    ]


def _offices(
    session: Session,
    offices: Sequence[Office] | None,
    intake: _Intake,
    replies: _Replies,
    month_end: _MonthEnd,
    ratings: _Ratings,
) -> tuple[dict[str, dict], list[str], list[str]]:
    """by_office, the ranking and the scope's names. The whole department lists every active
    office and any other office with a figure this month."""
    if offices is None:
        with_figures = (
            set(intake.by_office)
            | set(replies.by_office)
            | {o for o, n in month_end.overdue_by_office.items() if n}
            | set(ratings.by_office)
        )
        listed = session.scalars(
            select(Office)
            .where(or_(Office.active.is_(True), Office.id.in_(with_figures or [-1])))
            .order_by(Office.code)
        ).all()
        names: list[str] = []
    else:
        listed = sorted(offices, key=lambda office: office.code)
        names = [office.name for office in listed]
    by_office: dict[str, dict] = {}
    for office in listed:
        replied, on_time = replies.by_office.get(office.id, (0, 0))
        content, rated = ratings.by_office.get(office.id, (0, 0))
        by_office[office.code] = {
            "name": office.name,
            "received": intake.by_office.get(office.id, 0),
            "replied": replied,
            "on_time": on_time,
            "overdue_open": month_end.overdue_by_office.get(office.id, 0),
            "on_time_rate": _rate(on_time, replied),
            "satisfaction_rate": _rate(content, rated),
        }

    def merit(code: str) -> tuple:
        figures = by_office[code]
        on_time_rate, satisfaction = figures["on_time_rate"], figures["satisfaction_rate"]
        return (
            on_time_rate is None,
            -(on_time_rate or 0.0),
            satisfaction is None,
            -(satisfaction or 0.0),
            figures["overdue_open"],
            -figures["replied"],
            code,
        )

    ranking = sorted(by_office, key=merit)
    for rank, code in enumerate(ranking, start=1):
        by_office[code]["rank"] = rank
    return by_office, ranking, names


def _items(session: Session, counts: dict[int, int]) -> tuple[dict[str, int], dict[str, dict]]:
    if not counts:
        return {}, {}
    rows = session.execute(
        select(NoticeItem.id, NoticeItem.code, NoticeItem.title, NoticeItem.area, Notice.title)
        .join(Notice, Notice.id == NoticeItem.notice_id)
        .where(NoticeItem.id.in_(list(counts)))
        .order_by(Notice.id, NoticeItem.position, NoticeItem.code)
    ).all()
    by_item = {code: counts[item_id] for item_id, code, _t, _a, _n in rows}
    items = {
        code: {"title": title, "area": area, "notice": notice}
        for _id, code, title, area, notice in rows
    }
    return by_item, items


def _overdue_cases(
    session: Session, period: Period, scope: ColumnElement[bool], at_end: _AtMonthEnd
) -> list[dict]:
    """The cases open at month end past their deadline, most overdue first: numbers and
    dates only, never a subject, a text or a name."""
    office = select(Office.code).where(Office.id == Case.office_id).scalar_subquery()
    item = select(NoticeItem.code).where(NoticeItem.id == Case.notice_item_id).scalar_subquery()
    rows = session.execute(
        select(
            Case.tracking_number,
            office,
            item,
            Case.received_at,
            Case.reply_due,
            case((at_end.accepted, "in_progress"), else_="waiting"),
        )
        .where(_not_closed_at_end(period, scope), at_end.overdue)
        .order_by(Case.reply_due, Case.received_at, Case.id)
        .execution_options(yield_per=2_000)
    )
    return [
        {
            "tracking_number": number,
            "office": office_code,
            "item": item_code,
            "received_at": _iso(received_at),
            "reply_due": _iso(reply_due),
            "days_overdue": math.ceil((period.end - reply_due).total_seconds() / DAY_SECONDS),
            "status": status,
        }
        for number, office_code, item_code, received_at, reply_due, status in rows
    ]


def _clusters(session: Session, period: Period, scope: ColumnElement[bool]) -> list[dict]:
    """Clusters with two or more of the month's cases (in scope), the largest first, each
    labelled with the beginning of its first case in scope (as the clusters page does)."""
    rows = session.execute(
        select(Case.cluster_id, CaseCluster.kind, func.count())
        .join(CaseCluster, CaseCluster.id == Case.cluster_id)
        # is_not(None) lets PostgreSQL read the partial index ix_case_clustered_received
        .where(Case.cluster_id.is_not(None), period.contains(Case.received_at), scope)
        .group_by(Case.cluster_id, CaseCluster.kind)
        .having(func.count() >= 2)
        .order_by(func.count().desc(), Case.cluster_id)
        .limit(TOP_CLUSTERS)
    ).all()
    if not rows:
        return []
    cluster_ids = [row[0] for row in rows]
    firsts = session.execute(
        select(Case.cluster_id, func.min(Case.id))
        .where(Case.cluster_id.in_(cluster_ids), scope)
        .group_by(Case.cluster_id)
    ).all()
    first_case = {
        c.id: c for c in session.scalars(select(Case).where(Case.id.in_([f for _c, f in firsts])))
    }
    label = {cluster_id: label_for([first_case[first]]) for cluster_id, first in firsts}
    return [
        {"id": cluster_id, "kind": kind, "label": label.get(cluster_id, ""), "cases": count}
        for cluster_id, kind, count in rows
    ]


def _earlier_headline(
    session: Session,
    month: date,
    office_ids: Sequence[int] | None,
    reported: Callable[[date], dict | None] | None,
) -> dict:
    """The five compared figures of an earlier month: as reported then when that report is
    kept (the figures leadership read, and no second count of a month), else counted now."""
    kept = reported(month) if reported is not None else None
    if kept is not None and all(key in kept for key in _HEADLINE):
        return {key: kept[key] for key in _HEADLINE}
    return _headline(session, Period.of(month), office_ids)


#: The figures compared with the previous month and the same month last year.
_HEADLINE = ("received", "replied", "on_time_rate", "satisfaction_rate", "overdue_open")


def _headline(session: Session, period: Period, office_ids: Sequence[int] | None) -> dict:
    """The five figures compared with other months, counted exactly as in the report."""
    scope = _scope(office_ids)
    received = session.scalar(select(func.count()).where(period.contains(Case.received_at), scope))
    replies = _replied(session, period, scope, durations=False)
    ratings = _ratings(session, period, scope)
    at_end = _AtMonthEnd.of(session, period)
    overdue = session.scalar(
        select(func.count()).where(_not_closed_at_end(period, scope), at_end.overdue)
    )
    return {
        "received": received,
        "replied": replies.replied,
        "on_time_rate": _rate(replies.on_time, replies.replied),
        "satisfaction_rate": ratings.rate,
        "overdue_open": overdue,
    }


_RATES = {"on_time_rate", "satisfaction_rate"}


def _change(metric: str, value, previous_month, previous_year) -> dict:
    def compare(earlier):
        if value is None or earlier is None:
            return None
        if metric in _RATES:
            return round(value - earlier, 4)
        return round(value / earlier - 1, 4) if earlier else None

    return {
        "value": value,
        "previous_month": previous_month,
        "month_over_month": compare(previous_month),
        "previous_year": previous_year,
        "year_over_year": compare(previous_year),
    }


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _median(seconds: list[float]) -> float | None:
    return statistics.median(seconds) if seconds else None


def _mean(seconds: list[float]) -> float | None:
    return math.fsum(seconds) / len(seconds) if seconds else None


def _days(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / DAY_SECONDS, 4)


def _iso(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).isoformat(timespec="seconds")
