"""Reminders (催办): the worker's daily digests of answers falling due.

Each working day, in office hours, every office with an email address gets at most ONE mail
listing its open cases whose answer is due within REMIND_WORKING_DAYS working days (or today),
and those already overdue; the admins get at most ONE escalation listing every overdue open
case by office. Nobody gets a mail per case, at night, or on a holiday.

A ``reminder_digest`` row per office and Asia/Shanghai day records that the day's digest was
written (office NULL for the admins' escalation). Several workers may run: a pass takes a lock
first (PostgreSQL: a transaction-scoped advisory lock that a busy worker skips; SQLite: the
database's one write lock), so only one of them writes a given digest, and the others find
its row once they get their turn.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from shared.db import SHANGHAI, one_worker_at_a_time, utcnow
from shared.mail import builders
from shared.mail.outbox import enqueue
from shared.models import Case, CaseStatus, Office, ReminderDigest
from shared.operations import calendar as working_calendar
from shared.operations.deadlines import add_days
from shared.operations.staff import admins_with_mail

log = logging.getLogger("minyi.reminders")

#: An office hears of an answer this many working days before it is due (and on the day).
REMIND_WORKING_DAYS = 3
#: Reminders go out only between these Asia/Shanghai times, on working days.
REMINDER_HOURS = (time(8, 0), time(20, 0))
#: Cases listed in one section of a digest; the rest are counted, not listed.
DIGEST_MAX_CASES = 100
#: PostgreSQL advisory lock held by the worker writing the day's digests ("minyiRMD").
ADVISORY_LOCK_KEY = int.from_bytes(b"minyiRMD", "big")

#: What this process already warned about in its log.
_warned_years: set[int] = set()
_warned_days: set[date] = set()


def reminder_time(session: Session, now: datetime) -> bool:
    """Whether ``now`` is within office hours of a working day in Asia/Shanghai."""
    local = now.astimezone(SHANGHAI)
    start, end = REMINDER_HOURS
    if not start <= local.time() < end:
        return False
    if local.year not in _warned_years and not working_calendar.has_calendar(session, local.year):
        _warned_years.add(local.year)
        log.warning(
            "no official calendar for %s: holidays are not known, so reminders follow "
            "Monday to Friday; run `minyi calendar import %s`",
            local.year,
            local.year,
        )
    return working_calendar.is_working_day(session, local.date())


def send_reminders(
    session: Session, settings: Mapping[str, Any], now: datetime | None = None
) -> int:
    """Write the day's reminder digests that are due and not yet written into the outbox;
    returns how many mails were written. Flushes; the caller commits (and should call this in
    a transaction of its own, so the lock it takes is held only briefly)."""
    now = now or utcnow()
    if not reminder_time(session, now):
        return 0
    if not one_worker_at_a_time(session, ADVISORY_LOCK_KEY, ReminderDigest):
        return 0  # another worker is writing the digests right now
    day = now.astimezone(SHANGHAI).date()
    written = 0
    horizon = add_days(session, now, REMIND_WORKING_DAYS, working=True)
    already = set(
        session.scalars(
            select(ReminderDigest.office_id).where(
                ReminderDigest.day == day, ReminderDigest.office_id.is_not(None)
            )
        )
    )
    offices = session.scalars(
        select(Office)
        .where(Office.active, Office.email.is_not(None), Office.email != "")
        .order_by(Office.code)
    ).all()
    for office in offices:
        if office.id not in already:
            written += _office_digest(session, settings, office, now, day, horizon)
    if not _escalation_written(session, day):
        written += _escalation(session, settings, now, day)
    return written


def _escalation_written(session: Session, day: date) -> bool:
    """Whether the admins' escalation of the day was written (its row has no office, which
    the unique constraint does not count as a duplicate: the lock above does the work)."""
    return (
        session.scalar(
            select(ReminderDigest.id).where(
                ReminderDigest.office_id.is_(None), ReminderDigest.day == day
            )
        )
        is not None
    )


def _open(*conditions) -> tuple:
    """Open cases with an answer deadline, and the further conditions."""
    return (Case.status.in_(CaseStatus.OPEN), Case.reply_due.is_not(None), *conditions)


def _open_cases(*conditions) -> Select[tuple[Case]]:
    return select(Case).where(*_open(*conditions))


def _count(session: Session, statement: Select) -> int:
    return session.scalar(select(func.count()).select_from(statement.subquery()))


def _listed(session: Session, statement: Select[tuple[Case]]) -> tuple[list[Case], int]:
    """The first DIGEST_MAX_CASES cases (earliest due first) and how many there are."""
    cases = list(
        session.scalars(statement.order_by(Case.reply_due, Case.id).limit(DIGEST_MAX_CASES))
    )
    total = len(cases) if len(cases) < DIGEST_MAX_CASES else _count(session, statement)
    return cases, total


def _office_digest(
    session: Session,
    settings: Mapping[str, Any],
    office: Office,
    now: datetime,
    day: date,
    horizon: datetime,
) -> int:
    ours = Case.office_id == office.id
    due_soon, due_soon_total = _listed(
        session, _open_cases(ours, Case.reply_due >= now, Case.reply_due <= horizon)
    )
    overdue, overdue_total = _listed(session, _open_cases(ours, Case.reply_due < now))
    if not due_soon and not overdue:
        return 0
    digest = ReminderDigest(office_id=office.id, day=day, created_at=now)
    session.add(digest)
    session.flush()  # the unique (office, day) row: a second writer fails here, before mailing
    mail = builders.reminder_digest(
        office,
        due_soon,
        overdue,
        day,
        settings,
        remind_days=REMIND_WORKING_DAYS,
        more_due_soon=due_soon_total - len(due_soon),
        more_overdue=overdue_total - len(overdue),
    )
    row = enqueue(session, mail, settings)
    session.flush()
    digest.outbox_id = row.id
    return 1


def _escalation(session: Session, settings: Mapping[str, Any], now: datetime, day: date) -> int:
    """One mail to each admin with an address, listing overdue open cases by office."""
    overdue = _open(Case.reply_due < now)
    counts: dict[int | None, int] = dict(
        session.execute(
            select(Case.office_id, func.count()).where(*overdue).group_by(Case.office_id)
        ).all()
    )
    if not counts:
        return 0
    admins = admins_with_mail(session)
    if not admins:
        if day not in _warned_days:  # once a day, not every pass
            _warned_days.add(day)
            log.warning(
                "%s overdue cases, but no active admin has an email address to be told",
                sum(counts.values()),
            )
        return 0
    offices = {
        office.id: office
        for office in session.scalars(select(Office).where(Office.id.in_(list(counts))))
    }
    groups = []
    # Cases still waiting for triage first, then by office code.
    for office_id in sorted(
        counts, key=lambda i: (i in offices, offices[i].code if i in offices else "")
    ):
        in_office = Case.office_id.is_(None) if office_id is None else Case.office_id == office_id
        cases, _total = _listed(session, _open_cases(Case.reply_due < now, in_office))
        groups.append((offices.get(office_id), cases, counts[office_id]))
    digest = ReminderDigest(office_id=None, day=day, created_at=now)
    session.add(digest)
    session.flush()
    rows = [
        enqueue(session, builders.overdue_digest(admin, groups, day, settings), settings)
        for admin in admins
    ]
    session.flush()
    digest.outbox_id = rows[0].id
    return len(rows)
