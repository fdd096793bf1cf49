"""The figures of the monthly report, checked against a month built case by case.

Every case of October 2026 below is made through the real operations (intake, replies,
deadlines, tracking, cases) at a known moment (time-machine), and the test keeps its own
ledger of what it did. The expected figures are computed from that ledger in plain Python,
never with the report's helpers, and compared with every number of the report; the edge
cases (23:59 and 00:01 Asia/Shanghai on both edges, the extension, the late answer, the
reopened case, the overdue list) are also spelled out by hand.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from shared.models import Case, DeadlinePolicy, Notice, NoticeItem, NoticeStatus, Office, StaffUser
from shared.operations import cases, deadlines, replies, tracking
from shared.reports import figures as reports
from shared.reports import words
from shared.reports.figures import monthly_report
from shared.reports.months import last_completed_month as previous_month
from shared.reports.months import parse_month
from tests.factories import SETTINGS, make_case, make_staff

SHANGHAI = ZoneInfo("Asia/Shanghai")

#: Every step of the month is taken at its own moment (Month travels there); what is set up
#: around it (the demo, staff) is set up late in November 2026.
pytestmark = pytest.mark.clock(datetime(2026, 11, 27, 20, 0, tzinfo=SHANGHAI))
OCTOBER = date(2026, 10, 1)


def sh(*args: int) -> datetime:
    """A moment in Asia/Shanghai."""
    return datetime(*args, tzinfo=SHANGHAI)


def end_of_day(*args: int) -> datetime:
    return sh(*args, 23, 59, 59)


# -- the ledger: what the test did, to compute the expected figures from ----------------


@dataclass
class Row:
    number: str
    office: str | None
    channel: str
    category: str | None
    item: str | None
    received_at: datetime
    body: str
    spam: bool = False
    duplicate: bool = False
    cluster: int | None = None
    accepted_at: datetime | None = None
    answers: list[datetime] = field(default_factory=list)
    reopens: list[datetime] = field(default_factory=list)
    closed_at: datetime | None = None
    #: The answer deadline the first answer had to meet.
    due_at_first_answer: datetime | None = None
    ratings: list[tuple[str, datetime]] = field(default_factory=list)
    extensions: list[datetime] = field(default_factory=list)
    #: The answer deadline recorded on the case now (read back before reporting).
    reply_due: datetime | None = None


class Month:
    """Builds cases through the real operations, at given moments, and notes each step."""

    def __init__(self, db):
        self.db = db
        self.rows: dict[str, Row] = {}

    def _user(self, session, name="boss"):
        return session.scalar(select(StaffUser).where(StaffUser.username == name))

    def _case(self, session, number) -> Case:
        return session.scalar(select(Case).where(Case.tracking_number == number))

    def receive(self, at, body, *, item="A1", channel="web", category=None, **fields) -> Row:
        with time_machine.travel(at, tick=False):
            receipt = make_case(
                self.db,
                body=body,
                notice_item=item,
                channel=channel,
                received_at=at,
                **({"category": category} if category else {}),
                **fields,
            )
        row = Row(
            number=receipt.case.tracking_number,
            office={"A1": "wxb", "B1": "wmb", None: None}[item],
            channel=channel,
            category=category,
            item=item,
            received_at=at,
            body=body,
        )
        self.rows[row.number] = row
        return row

    def reply(self, row: Row, at, kind="answer") -> None:
        with time_machine.travel(at, tick=False), self.db.transaction() as session:
            case = self._case(session, row.number)
            user = self._user(session)
            if kind == "answer" and not row.answers:
                row.due_at_first_answer = case.reply_due
            draft = replies.draft(session, user, case, "答复如下：已经处理。", kind=kind)
            replies.submit(session, user, draft, SETTINGS, now=at)
        if kind == "answer":
            row.answers.append(at)
        elif kind == "acceptance":
            row.accepted_at = at

    def set_due(self, row: Row, due: datetime) -> None:
        """A shorter answer deadline, as a notice's own policy would set it."""
        with self.db.transaction() as session:
            self._case(session, row.number).reply_due = due

    def extend(self, row: Row, at, days: int) -> None:
        with time_machine.travel(at, tick=False), self.db.transaction() as session:
            case = self._case(session, row.number)
            deadlines.request_extension(session, self._user(session), case, days, "情况复杂")
            deadlines.approve_extension(session, self._user(session, "chief"), case)
        row.extensions.append(at)

    def rate(self, row: Row, at, value: str) -> None:
        with time_machine.travel(at, tick=False), self.db.transaction() as session:
            tracking.rate(session, self._case(session, row.number), value, settings=SETTINGS)
        row.ratings.append((value, at))
        if value == "unsatisfied":
            row.reopens.append(at)
        else:
            row.closed_at = at

    def close(self, row: Row, at) -> None:
        with time_machine.travel(at, tick=False), self.db.transaction() as session:
            cases.close(session, self._user(session), self._case(session, row.number), now=at)
        row.closed_at = at

    def spam(self, row: Row, at) -> None:
        with time_machine.travel(at, tick=False), self.db.transaction() as session:
            cases.mark_spam(session, self._user(session), self._case(session, row.number))
        row.spam = True

    def duplicate(self, row: Row, original: Row, at) -> None:
        with time_machine.travel(at, tick=False), self.db.transaction() as session:
            cases.mark_duplicate(
                session, self._user(session), self._case(session, row.number), original.number
            )
        row.duplicate = True

    def read_back(self) -> None:
        """The deadlines as recorded now, and the clusters intake found by itself."""
        with self.db.session() as session:
            for row in self.rows.values():
                case = self._case(session, row.number)
                row.reply_due = case.reply_due
                row.cluster = case.cluster_id

    def report(self, month=OCTOBER, *, offices=None, **options) -> dict:
        self.read_back()
        with self.db.session() as session:
            scoped = None
            if offices is not None:
                scoped = session.scalars(select(Office).where(Office.code.in_(offices))).all()
            return monthly_report(session, month, offices=scoped, **options)


# -- the expected figures, from the ledger alone --------------------------------------


def bounds(month: date) -> tuple[datetime, datetime]:
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return sh(month.year, month.month, 1), sh(following.year, following.month, 1)


def answered_at_end(row: Row, end: datetime) -> bool:
    answers = [a for a in row.answers if a < end]
    if not answers:
        return False
    reopens = [r for r in row.reopens if r < end]
    return not reopens or max(answers) > max(reopens)


def state_at_end(row: Row, end: datetime) -> str:
    if row.closed_at and row.closed_at < end:
        return "closed"
    if answered_at_end(row, end):
        return "answered"
    if (row.accepted_at and row.accepted_at < end) or any(a < end for a in row.answers):
        return "in_progress"
    return "waiting"


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def expected(ledger: Month, month: date, offices: list[str] | None = None) -> dict:
    start, end = bounds(month)

    def during(moment):
        return moment is not None and start <= moment < end

    rows = [
        r for r in ledger.rows.values() if not r.spam and (offices is None or r.office in offices)
    ]
    received = [r for r in rows if during(r.received_at)]
    replied = [r for r in rows if r.answers and during(r.answers[0])]
    on_time = [r for r in replied if r.answers[0] <= r.due_at_first_answer]
    closed = [r for r in rows if during(r.closed_at)]
    before_end = [r for r in rows if r.received_at < end]
    open_at_end = [r for r in before_end if state_at_end(r, end) in ("waiting", "in_progress")]
    overdue = [r for r in open_at_end if r.reply_due < end]
    ratings = [value for r in rows for value, at in r.ratings if during(at)]
    content = [v for v in ratings if v in ("satisfied", "basically_satisfied")]
    reply_days = [(r.answers[0] - r.received_at).total_seconds() / 86400 for r in replied]
    close_days = [(r.closed_at - r.received_at).total_seconds() / 86400 for r in closed]
    completed = [r for r in closed if (max(r.answers) if r.answers else r.closed_at) <= r.reply_due]

    office_codes = offices or ["wmb", "wxb"]
    by_office = {}
    for code in office_codes:
        mine_replied = [r for r in replied if r.office == code]
        mine_on_time = [r for r in on_time if r.office == code]
        mine_ratings = [v for r in rows if r.office == code for v, at in r.ratings if during(at)]
        by_office[code] = {
            "name": {"wxb": "县委网信办", "wmb": "县文明办"}[code],
            "received": sum(r.office == code for r in received),
            "replied": len(mine_replied),
            "on_time": len(mine_on_time),
            "overdue_open": sum(r.office == code for r in overdue),
            "on_time_rate": rate(len(mine_on_time), len(mine_replied)),
            "satisfaction_rate": rate(
                sum(v != "unsatisfied" for v in mine_ratings), len(mine_ratings)
            ),
        }
    ranking = sorted(
        office_codes,
        key=lambda code: (
            by_office[code]["on_time_rate"] is None,
            -(by_office[code]["on_time_rate"] or 0),
            by_office[code]["satisfaction_rate"] is None,
            -(by_office[code]["satisfaction_rate"] or 0),
            by_office[code]["overdue_open"],
            -by_office[code]["replied"],
            code,
        ),
    )
    for rank, code in enumerate(ranking, start=1):
        by_office[code]["rank"] = rank

    days = [start.date() + timedelta(days=i) for i in range((end - start).days)]
    cluster_counts = Counter(r.cluster for r in received if r.cluster)
    last_day = (end - timedelta(days=1)).date()
    return {
        "month": f"{month:%Y-%m}",
        "received": len(received),
        "by_channel": {
            c: sum(r.channel == c for r in received)
            for c in ("web", "api", "email", "phone", "letter", "visit")
        },
        "by_office": by_office,
        "by_item": dict(Counter(r.item for r in received if r.item)),
        "replied": len(replied),
        "on_time": len(on_time),
        "on_time_rate": rate(len(on_time), len(replied)),
        "median_reply_days": round(statistics.median(reply_days), 4) if reply_days else None,
        "mean_reply_days": round(statistics.fmean(reply_days), 4) if reply_days else None,
        "median_close_days": round(statistics.median(close_days), 4) if close_days else None,
        "mean_close_days": round(statistics.fmean(close_days), 4) if close_days else None,
        "overdue_open": len(overdue),
        "satisfaction_rate": rate(len(content), len(ratings)),
        "spam": sum(
            r.spam and during(r.received_at) and (offices is None or r.office in offices)
            for r in ledger.rows.values()
        ),
        "duplicates": sum(r.duplicate for r in received),
        "by_category": {
            c: sum((r.category or "none") == c for r in received)
            for c in ("suggestion", "complaint", "report", "inquiry", "praise", "none")
        },
        "status_at_month_end": {
            s: sum(state_at_end(r, end) == s for r in received)
            for s in ("waiting", "in_progress", "answered", "closed")
        },
        "backlog": len(open_at_end),
        "closed": len(closed),
        "completed_on_time_rate": rate(len(completed), len(closed)),
        "ratings": {
            v: ratings.count(v) for v in ("satisfied", "basically_satisfied", "unsatisfied")
        },
        "reopened": sum(any(during(at) for at in r.reopens) for r in rows),
        "extended": sum(during(at) for r in rows for at in r.extensions),
        "ranking": ranking,
        "daily": [
            {
                "date": day.isoformat(),
                "received": sum(r.received_at.astimezone(SHANGHAI).date() == day for r in received),
                "replied": sum(r.answers[0].astimezone(SHANGHAI).date() == day for r in replied),
            }
            for day in days
        ],
        "cluster_sizes": sorted(n for n in cluster_counts.values() if n >= 2),
        "overdue_cases": [
            {
                "tracking_number": r.number,
                "office": r.office,
                "item": r.item,
                "received_at": r.received_at.astimezone(SHANGHAI).isoformat(),
                "reply_due": r.reply_due.astimezone(SHANGHAI).isoformat(timespec="seconds"),
                # The deadline is the end of its day: every later day of the month counts.
                "days_overdue": (last_day - r.reply_due.astimezone(SHANGHAI).date()).days + 1,
                "status": state_at_end(r, end),
            }
            for r in sorted(overdue, key=lambda r: (r.reply_due, r.received_at))
        ],
    }


def assert_report_matches(report: dict, want: dict) -> None:
    for key, value in want.items():
        if key == "cluster_sizes":
            assert sorted(c["cases"] for c in report["clusters"]) == value, key
        else:
            assert report[key] == value, key


# -- the month ----------------------------------------------------------------------------


@pytest.fixture
def world(db):
    """Two offices (no review step, so an answer goes out when submitted), one notice with an
    item for each, and two admins (one asks for an extension, the other approves it)."""
    with db.transaction() as session:
        wxb = Office(code="wxb", name="县委网信办", email="wxb@gov.test", review_levels=0)
        wmb = Office(code="wmb", name="县文明办", email="wmb@gov.test", review_levels=0)
        notice = Notice(
            slug="rectification",
            title="关于巡察整改进展情况的通报",
            issuer="县委宣传部",
            status=NoticeStatus.PUBLISHED,
            opens_at=datetime(2020, 1, 1, tzinfo=UTC),
        )
        notice.items = [
            NoticeItem(code="A1", area="意识形态工作", title="网络舆情", default_office=wxb),
            NoticeItem(code="B1", area="精神文明建设", title="文明创建", default_office=wmb),
        ]
        # Reports (举报) must be answered within 20 calendar days.
        policy = DeadlinePolicy(category="report", acknowledge_days=5, reply_days=20)
        session.add_all([wxb, wmb, notice, policy])
    make_staff(db, "boss", "admin")
    make_staff(db, "chief", "admin")
    return Month(db)


#: Office A's texts: each names the office and rumours online, otherwise unlike the others
#: (so that intake finds no campaign among them).
A_TEXTS = [
    "县委网信办应当管一管网络谣言，微信群里天天有人转发假消息。",
    "网络谣言说自来水被污染了，县委网信办能不能出面辟谣？",
    "短视频平台上关于学校收费的网络谣言越来越多，请县委网信办核实。",
    "县委网信办的举报电话一直占线，网络谣言没人处理吗。",
    "有人在论坛冒充政府发布拆迁通知，这类网络谣言应当由县委网信办追查。",
    "建议县委网信办每月公布一次网络谣言辟谣清单，方便老年人识别。",
    "关于菜市场搬迁的网络谣言传得很凶，县委网信办应尽快回应。",
    "县委网信办对自媒体账号造谣的处理结果能否公开？网络谣言害人不浅。",
    "去年台风期间的网络谣言导致超市被抢购，县委网信办事后有没有总结？",
    "孩子在游戏群里看到所谓内部消息，县委网信办可否进校园讲讲网络谣言。",
    "县委网信办公众号更新太慢，网络谣言跑在了官方消息前面。",
    "网络谣言称县医院停诊，我专门跑了一趟才知道是假的，县委网信办要管。",
]


@pytest.fixture
def october(world):
    """October 2026 with its edge cases, and the months around it that `change` compares."""
    m = world
    a_texts = iter(A_TEXTS)

    def a_text():
        return next(a_texts)

    rows = {}
    # The edges: 23:59 and 00:01 Asia/Shanghai are 15:59 and 16:01 UTC the day before.
    rows["before_start"] = m.receive(datetime(2026, 9, 30, 15, 59, tzinfo=UTC), a_text())
    rows["at_start"] = m.receive(
        datetime(2026, 9, 30, 16, 1, tzinfo=UTC), a_text(), category="complaint"
    )
    rows["at_end"] = m.receive(
        datetime(2026, 10, 31, 15, 59, tzinfo=UTC),
        "小区门口的路灯坏了三个月，晚上出行很不安全，请县文明办督促物业维修。",
        item="B1",
        channel="phone",
        category="suggestion",
    )
    rows["after_end"] = m.receive(datetime(2026, 10, 31, 16, 1, tzinfo=UTC), a_text())
    # Spam, and a repeat of the first case.
    rows["spam"] = m.receive(sh(2026, 10, 5, 9), "广告：代办证件，联系电话一二三")
    m.spam(rows["spam"], sh(2026, 10, 5, 10))
    rows["repeat"] = m.receive(
        sh(2026, 10, 6, 9), "同一件事我又写了一次：请处理谣言", channel="email"
    )
    m.duplicate(rows["repeat"], rows["at_start"], sh(2026, 10, 6, 10))
    # Extended from 10 to 20 October, answered on the 15th: late by the first deadline,
    # on time by the extended one.
    rows["extended"] = m.receive(sh(2026, 10, 2, 9), a_text(), category="inquiry")
    m.set_due(rows["extended"], end_of_day(2026, 10, 10))
    m.extend(rows["extended"], sh(2026, 10, 8, 10), 10)
    m.reply(rows["extended"], sh(2026, 10, 15, 10))
    # Due on 9 October, answered on the 12th: late.
    rows["late"] = m.receive(sh(2026, 10, 3, 9), a_text(), category="complaint")
    m.set_due(rows["late"], end_of_day(2026, 10, 9))
    m.reply(rows["late"], sh(2026, 10, 12, 10))
    # A report received on 10 September, due on the 30th, answered late on 4 October, rated
    # unsatisfied on the 6th: reopened with a re-handling deadline (27 October) that the late
    # answer would have met; not answered again by month end.
    rows["reopened"] = m.receive(sh(2026, 9, 10, 9), a_text(), category="report")
    m.reply(rows["reopened"], sh(2026, 10, 4, 10))
    m.rate(rows["reopened"], sh(2026, 10, 6, 10), "unsatisfied")
    # Answered on 5 October, rated unsatisfied on the 7th, answered again on the 12th (on
    # time for re-handling), rated satisfied on 5 November: answered again at month end.
    rows["reanswered"] = m.receive(sh(2026, 10, 2, 11), a_text())
    m.reply(rows["reanswered"], sh(2026, 10, 5, 10))
    m.rate(rows["reanswered"], sh(2026, 10, 7, 10), "unsatisfied")
    m.reply(rows["reanswered"], sh(2026, 10, 12, 10))
    m.rate(rows["reanswered"], sh(2026, 11, 5, 10), "satisfied")
    # Answered half an hour into October, rated satisfied on the 8th (closed).
    rows["closed"] = m.receive(sh(2026, 9, 20, 9), a_text(), channel="visit")
    m.reply(rows["closed"], sh(2026, 10, 1, 0, 30))
    m.rate(rows["closed"], sh(2026, 10, 8, 10), "satisfied")
    # Rated in September: neither the rating nor the closing counts in October.
    rows["rated_before"] = m.receive(sh(2026, 8, 1, 9), a_text())
    m.reply(rows["rated_before"], sh(2026, 9, 1, 10))
    m.rate(rows["rated_before"], sh(2026, 9, 25, 10), "basically_satisfied")
    # Answered in October, rated in November.
    rows["rated_after"] = m.receive(sh(2026, 10, 10, 9), a_text())
    m.reply(rows["rated_after"], sh(2026, 10, 20, 10))
    m.rate(rows["rated_after"], sh(2026, 11, 2, 10), "satisfied")
    # Office B: due 4 October (60 days), never accepted: waiting and overdue at month end.
    rows["overdue_waiting"] = m.receive(
        sh(2026, 8, 5, 9),
        "县城主干道上乱贴小广告，县文明办八月就答应清理，至今没有动静。",
        item="B1",
    )
    # Office A: accepted 1 September (due 31 October 23:59:59), answered on 3 November:
    # open and overdue at month end, by one part day, though answered today.
    rows["overdue_accepted"] = m.receive(sh(2026, 8, 10, 9), a_text())
    m.reply(rows["overdue_accepted"], sh(2026, 9, 1, 10), kind="acceptance")
    m.reply(rows["overdue_accepted"], sh(2026, 11, 3, 10))
    # Office B: closed by staff in October without an answer; and its near-twin (a campaign).
    rows["closed_by_staff"] = m.receive(
        sh(2026, 10, 12, 9),
        "广场舞音响太吵了，晚上十点以后还在跳，小区里的老人孩子都睡不好觉，请县文明办协调处理。",
        item="B1",
        channel="letter",
    )
    m.close(rows["closed_by_staff"], sh(2026, 10, 14, 9))
    rows["campaign"] = m.receive(
        sh(2026, 10, 13, 9),
        "广场舞音响太吵了，晚上十点以后还在跳，小区里的老人孩子都睡不好，请县文明办协调处理。",
        item="B1",
    )
    # Last year's October, for the year-over-year change.
    rows["last_year"] = m.receive(sh(2025, 10, 15, 9), a_text())
    m.reply(rows["last_year"], sh(2025, 10, 20, 9))
    return m, rows


# -- the tests ------------------------------------------------------------------------------


def test_every_figure_of_the_month_matches_the_ledger(october):
    """Every number of the whole department's report equals the one counted by hand."""
    month, _rows = october
    report = month.report()
    assert_report_matches(report, expected(month, OCTOBER))


def test_many_reopened_cases_are_counted_alike(october, monkeypatch):
    """Past a few reopened cases the report excludes them with a subquery instead of a list
    of ids (an anti-join): the figures are the same."""
    month, _rows = october
    monkeypatch.setattr(reports, "_MAX_LISTED_IDS", 0)
    assert_report_matches(month.report(), expected(month, OCTOBER))


def test_the_edge_cases_as_a_clerk_would_count_them(october):
    """The month's edges, the extension, the late answer, the reopened case, the overdue list."""
    month, rows = october
    report = month.report()
    # 00:01 on 1 October and 23:59 on 31 October are in; 23:59 on 30 September and 00:01
    # on 1 November are not. Spam is out; the repeat is in and counted as a duplicate.
    assert report["daily"][0]["received"] == 1
    assert report["daily"][-1] == {"date": "2026-10-31", "received": 1, "replied": 0}
    assert report["received"] == 9
    assert report["spam"] == 1 and report["duplicates"] == 1
    # First answered in October: extended (on time), late, reopened (late), reanswered,
    # closed and rated_after (on time).
    assert report["replied"] == 6
    assert report["on_time"] == 4
    assert report["on_time_rate"] == 0.6667
    assert report["by_office"]["wxb"]["on_time"] == 4
    # Two cases open and past due at month end, most overdue first.
    # Due 4 October, 27 October (re-handling: 15 working days from the 6th) and 31 October
    # 23:59:59: every day after the due day counts, the part day at month end too.
    overdue = [
        (c["tracking_number"], c["days_overdue"], c["status"]) for c in report["overdue_cases"]
    ]
    assert overdue == [
        (rows["overdue_waiting"].number, 28, "waiting"),
        (rows["reopened"].number, 5, "in_progress"),
        (rows["overdue_accepted"].number, 1, "in_progress"),
    ]
    assert report["overdue_open"] == 3
    assert report["ratings"] == {"satisfied": 1, "basically_satisfied": 0, "unsatisfied": 2}
    assert report["satisfaction_rate"] == 0.3333
    assert report["reopened"] == 2 and report["extended"] == 1
    # Rated satisfied on 8 October; closed by staff on the 14th.
    assert report["closed"] == 2
    assert report["completed_on_time_rate"] == 1.0
    assert report["period"] == {
        "start": "2026-10-01T00:00:00+08:00",
        "end": "2026-11-01T00:00:00+08:00",
    }
    # Nothing in the overdue list can name or quote the citizen.
    assert set(report["overdue_cases"][0]) == {
        "tracking_number",
        "office",
        "item",
        "received_at",
        "reply_due",
        "days_overdue",
        "status",
    }


def test_an_officers_report_shows_only_their_office(october):
    """Scoped to office A: every figure, the words, the clusters and the overdue list are A's."""
    month, rows = october
    report = month.report(offices=["wxb"])
    assert_report_matches(report, expected(month, OCTOBER, ["wxb"]))
    assert list(report["by_office"]) == ["wxb"]
    assert report["scope"] == {"offices": ["wxb"], "names": ["县委网信办"]}
    assert rows["overdue_waiting"].number not in str(report["overdue_cases"])
    words = {w["word"] for w in report["top_words"]}
    assert "谣言" in words or "网络谣言" in words
    assert not any("广场" in w or "文明办" in w for w in words)
    assert all(c["kind"] == "duplicate" for c in report["clusters"])
    assert not any("广场" in c["label"] for c in report["clusters"])
    # Office B's own report, the other way round.
    other = month.report(offices=["wmb"])
    assert_report_matches(other, expected(month, OCTOBER, ["wmb"]))
    assert [c["kind"] for c in other["clusters"]] == ["campaign"]
    assert not any("谣言" in w["word"] for w in other["top_words"])


def test_top_words_keep_office_names_whole_and_drop_filler(october):
    month, _rows = october
    report = month.report()
    words = {w["word"]: w["count"] for w in report["top_words"]}
    assert report["words_from"] == {"cases": 9, "of": 9}
    # Office names are one word; the filler, single characters and numbers are left out.
    assert words["县委网信办"] >= 4
    assert "县文明办" in words
    assert not {"问题", "希望", "反映", "情况"} & set(words)
    assert all(len(w) >= 2 and not w.isdigit() for w in words)
    counts = [w["count"] for w in report["top_words"]]
    assert counts == sorted(counts, reverse=True) and len(counts) <= 30


def test_words_from_says_how_many_texts_were_segmented(october, monkeypatch):
    month, _rows = october
    monkeypatch.setattr(words, "MAX_WORD_TEXTS", 4)
    assert month.report()["words_from"] == {"cases": 4, "of": 9}


def test_change_against_the_previous_month_and_last_year(october):
    month, _rows = october
    report = month.report()
    now, september, last_year = (
        expected(month, OCTOBER),
        expected(month, date(2026, 9, 1)),
        expected(month, date(2025, 10, 1)),
    )
    for metric in ("received", "replied", "overdue_open", "on_time_rate", "satisfaction_rate"):
        value, before, year = now[metric], september[metric], last_year[metric]
        counts = metric in ("received", "replied", "overdue_open")

        def compare(earlier, value=value, counts=counts):
            if value is None or earlier is None:
                return None
            if counts:
                return round(value / earlier - 1, 4) if earlier else None
            return round(value - earlier, 4)

        assert report["change"][metric] == {
            "value": value,
            "previous_month": before,
            "month_over_month": compare(before),
            "previous_year": year,
            "year_over_year": compare(year),
        }, metric
    # By hand: 9 received against September's 3 and last October's 1.
    assert report["change"]["received"]["month_over_month"] == 2.0
    assert report["change"]["received"]["year_over_year"] == 8.0


def test_the_comparison_takes_an_earlier_months_figures_as_reported_then(october):
    """A month whose report is kept (the archive) is compared as leadership read it, not
    counted again; a month without one is counted."""
    month, _rows = october
    september = {"received": 40, "replied": 30, "on_time_rate": 0.5}
    september |= {"satisfaction_rate": 0.75, "overdue_open": 2}
    asked = []

    def reported(earlier: date) -> dict | None:
        asked.append(earlier)
        return september if earlier == date(2026, 9, 1) else None

    change = month.report(reported=reported)["change"]
    assert asked == [date(2026, 9, 1), date(2025, 10, 1)]
    assert change["received"]["previous_month"] == 40
    assert change["satisfaction_rate"]["previous_month"] == 0.75
    assert change["received"]["previous_year"] == expected(month, date(2025, 10, 1))["received"]


def test_a_past_month_does_not_change_when_reported_later(october):
    """September as it stood: the reopened case and the overdue one were not yet answered."""
    month, _rows = october
    september = month.report(date(2026, 9, 1))
    assert_report_matches(september, expected(month, date(2026, 9, 1)))
    # September's three cases were all answered in October.
    assert september["status_at_month_end"] == {
        "waiting": 3,
        "in_progress": 0,
        "answered": 0,
        "closed": 0,
    }
    # Open on 30 September at midnight: those three, the one waiting since August, and the
    # accepted one.
    assert september["backlog"] == 5
    assert september["overdue_open"] == 0


def test_an_empty_month_has_no_rates_and_no_division_by_zero(world):
    report = world.report(date(2026, 6, 1))
    assert report["received"] == 0 and report["replied"] == 0
    for rate_key in ("on_time_rate", "satisfaction_rate", "completed_on_time_rate"):
        assert report[rate_key] is None
    assert report["median_reply_days"] is None and report["mean_close_days"] is None
    assert report["by_office"]["wxb"]["on_time_rate"] is None
    assert report["change"]["received"]["month_over_month"] is None
    assert len(report["daily"]) == 30 and report["top_words"] == []
    assert report["words_from"] == {"cases": 0, "of": 0}
    assert report["by_channel"] == dict.fromkeys(
        ("web", "api", "email", "phone", "letter", "visit"), 0
    )


def test_december_to_january(world):
    """The year changes with the month: the edges and the comparison follow."""
    late = world.receive(datetime(2025, 12, 31, 15, 59, tzinfo=UTC), "十二月三十一日深夜的留言内容")
    early = world.receive(datetime(2025, 12, 31, 16, 1, tzinfo=UTC), "一月一日凌晨的留言内容很长")
    midnight = world.receive(sh(2026, 1, 1, 0, 0, 0), "新年零点整收到的留言，属于一月")
    december = world.report(date(2025, 12, 1))
    january = world.report(date(2026, 1, 1))
    assert december["received"] == 1 and january["received"] == 2
    assert december["daily"][-1] == {"date": "2025-12-31", "received": 1, "replied": 0}
    assert january["daily"][0] == {"date": "2026-01-01", "received": 2, "replied": 0}
    assert december["period"]["end"] == january["period"]["start"] == "2026-01-01T00:00:00+08:00"
    assert january["change"]["received"]["previous_month"] == 1
    assert_report_matches(january, expected(world, date(2026, 1, 1)))
    assert_report_matches(december, expected(world, date(2025, 12, 1)))
    assert len({late.number, early.number, midnight.number}) == 3


def test_the_report_is_json_ready_and_defined(october):
    import json

    month, _rows = october
    steps = []
    report = month.report(progress=steps.append, now=datetime(2026, 11, 1, 0, 0, 3, tzinfo=UTC))
    assert json.loads(json.dumps(report)) == report
    assert report["generated_at"] == "2026-11-01T08:00:03+08:00"
    assert steps == list(reports.STEPS)
    for key in report:
        if key != "definitions":
            assert report["definitions"].get(key), f"{key} has no definition"


@pytest.mark.parametrize(
    "text",
    ["2026-13", "2026-00", "26-10", "2026-1", "October", "", "1999-12", "2026-12", "2027-01"],
)
def test_parse_month_refuses_what_is_not_a_month_to_report(text):
    with pytest.raises(ValueError) as refused:
        parse_month(text, now=datetime(2026, 11, 27, 12, tzinfo=UTC))
    assert str(refused.value)


def test_parse_month_and_previous_month():
    now = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)  # 1 December 00:30 in Shanghai
    assert parse_month("2026-12", now=now) == date(2026, 12, 1)
    assert parse_month(" 2000-01 ", now=now) == date(2000, 1, 1)
    assert previous_month(now) == date(2026, 11, 1)
    assert previous_month(datetime(2026, 1, 1, tzinfo=SHANGHAI)) == date(2025, 12, 1)
