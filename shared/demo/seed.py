"""The demo data: the propaganda department's inspection-rectification notice, its offices,
routing rules and deadline policy, and the first admin account.

The notice's items are parsed from ``notice.txt`` as it was published, so the public page
shows the department's own words; only the codes, offices and summary are ours.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from importlib.resources import files

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db import SHANGHAI, utcnow
from shared.models import (
    DeadlinePolicy,
    Notice,
    NoticeItem,
    NoticeStatus,
    Office,
    Role,
    RoutingRule,
    StaffUser,
)
from shared.operations import calendar as working_calendar
from shared.operations import reply_templates
from shared.operations.staff import create_staff

NOTICE_SLUG = "tongwei-xcb-2021-inspection"
NOTICE_TITLE = "中共通渭县委宣传部关于市委第七提级交叉巡察组巡察反馈意见整改情况的通报"
NOTICE_ISSUER = "中共通渭县委宣传部"
NOTICE_SUMMARY = (
    "2021年4月26日至6月25日，市委第七提级交叉巡察组对通渭县委宣传部开展巡察，"
    "并于7月26日召开巡察反馈会议。县委宣传部对反馈的3个方面12项具体问题逐项整改，"
    "目前已全面完成整改。现将整改情况向社会通报，欢迎广大干部群众监督，"
    "可在本页留言，也可通过电话、电子邮件或信函提出意见建议。"
)
ITEM_CODE_PREFIX = "XC21-"

#: The notice announces "3个方面12项具体问题"; a parse that finds anything else is wrong.
EXPECTED_AREAS = 3
EXPECTED_ITEMS = 12

#: A reserved domain (RFC 2606), so reminders from a demo installation reach no one.
OFFICE_MAIL_DOMAIN = "xcb.tongwei.example"

#: (code, name, review levels). Online opinion and money matters get a second sign-off.
DEMO_OFFICES: tuple[tuple[str, str, int], ...] = (
    ("office", "办公室", 1),
    ("theory", "理论教育股", 1),
    ("news", "新闻外宣股", 1),
    ("cyber", "县委网信办", 2),
    ("civil", "县文明办", 1),
    ("media", "县融媒体中心", 1),
    ("finance", "财务室", 2),
    ("party", "机关党支部", 1),
)

#: Which office answers a notice item, by words in its title and then in its parent problem.
#: The first match wins, so the narrow subjects come before the broad ones.
ITEM_OFFICE_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("cyber", ("舆情", "网络", "网评")),
    ("media", ("三审", "通渭网", "融媒体", "新闻稿")),
    ("finance", ("财务", "报销", "差旅", "财经")),
    ("theory", ("理论学习", "中心组", "意识形态", "学习贯彻")),
    ("party", ("党建", "组织生活", "三会一课", "管党治党")),
    ("civil", ("文明", "志愿")),
)
#: 办公室 coordinates what no specialised office owns, such as the department's rules (制度建设).
FALLBACK_OFFICE = "office"


@dataclass(frozen=True)
class DemoRoutingRule:
    """A routing rule to create, found again by its name."""

    name: str
    office_code: str
    position: int
    keywords: tuple[str, ...] = ()
    category: str | None = None


#: Spaced positions leave room for an admin to put rules in between.
DEMO_ROUTING_RULES: tuple[DemoRoutingRule, ...] = (
    DemoRoutingRule("网络舆情转县委网信办", "cyber", 10, ("舆情", "网络", "网评", "谣言")),
    DemoRoutingRule("财务经费转财务室", "finance", 20, ("财务", "报销", "差旅", "经费", "公款")),
    DemoRoutingRule("新闻发布转县融媒体中心", "media", 30, ("融媒体", "三审", "新闻稿", "通渭网")),
    DemoRoutingRule("文明创建转县文明办", "civil", 40, ("文明", "志愿", "道德")),
    DemoRoutingRule("表扬转办公室", "office", 50, category="praise"),
)

INQUIRY_CATEGORY = "inquiry"

ADMIN_USERNAME = "admin"


@dataclass(frozen=True)
class ParsedItem:
    """One problem of the notice that the public can comment on (a leaf of its outline)."""

    #: The area heading (方面) without its "(一)" number.
    area: str
    title: str
    #: The heading of the problem this is a sub-point of; None when the problem is the item.
    problem: str | None
    #: The 整改情况 text, without that label.
    description: str


@dataclass(frozen=True)
class NoticeContacts:
    """The channels printed at the end of the notice."""

    phone: str
    email: str
    postal_address: str
    postcode: str


@dataclass(frozen=True)
class ParsedNotice:
    """What the notice text says: its whole body, areas, leaf items and contacts."""

    body: str
    areas: tuple[str, ...]
    items: tuple[ParsedItem, ...]
    contacts: NoticeContacts


@dataclass
class _Heading:
    """A node of the notice's outline while it is read: area, problem or sub-point."""

    text: str
    body: list[str] = field(default_factory=list)
    children: list[_Heading] = field(default_factory=list)


# Both ASCII and full-width punctuation occur in copies of such notices.
_NUMERALS = "一二三四五六七八九十"
_SECTION = re.compile(rf"^[{_NUMERALS}]+\s*、")
_AREA = re.compile(rf"^[(（]\s*[{_NUMERALS}]+\s*[)）]\s*(?P<text>.+)$")
_PROBLEM = re.compile(r"^\d+\s*[.．、]\s*(?P<text>.+)$")
_SUBPOINT = re.compile(r"^[(（]\s*\d+\s*[)）]\s*(?P<text>.+)$")
_DESCRIPTION_LABEL = re.compile(r"^整改情况\s*[:：]\s*")
# Greedy, so quotes nested inside the quoted problem stay part of it.
_QUOTED_PROBLEM = re.compile(r"^针对\s*[“\"](?P<quoted>.+)[”\"]\s*问题")
_LABELLED_LINE = re.compile(r"^(?P<label>[^:]{1,12}?)\s*:\s*(?P<value>.+)$")
_CONTACT_LABELS = {
    "联系电话": "phone",
    "电话": "phone",
    "电子邮箱": "email",
    "邮箱": "email",
    "电子邮件": "email",
    "邮政信箱": "postal_address",
    "通信地址": "postal_address",
    "通讯地址": "postal_address",
    "邮编": "postcode",
    "邮政编码": "postcode",
}


def parse_notice(text: str) -> ParsedNotice:
    """Read the areas, leaf items and contacts of the notice; ValueError if any is missing."""
    outline = _read_outline(text.splitlines())
    areas = tuple(_clean(area.text) for area in outline)
    items = tuple(_leaf_items(outline))
    if len(areas) != EXPECTED_AREAS or len(items) != EXPECTED_ITEMS:
        raise ValueError(
            f"expected {EXPECTED_AREAS} areas and {EXPECTED_ITEMS} items in the notice, "
            f"found {len(areas)} and {len(items)}"
        )
    return ParsedNotice(body=text, areas=areas, items=items, contacts=_read_contacts(text))


def _read_outline(lines: list[str]) -> list[_Heading]:
    """The areas with their problems and sub-points, each heading with the lines below it."""
    areas: list[_Heading] = []
    current: _Heading | None = None
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if areas and _SECTION.match(line):
            break  # the next top-level section ("三、") comes after the last problem
        if match := _AREA.match(line):
            current = _Heading(match["text"])
            areas.append(current)
        elif not areas:
            continue  # the preamble before the first area
        elif match := _PROBLEM.match(line):
            current = _Heading(match["text"])
            areas[-1].children.append(current)
        elif match := _SUBPOINT.match(line):
            if not areas[-1].children:
                raise ValueError(f"a sub-point outside any problem: {line}")
            current = _Heading(match["text"])
            areas[-1].children[-1].children.append(current)
        else:
            assert current is not None  # areas is not empty, so a heading was read
            current.body.append(line)
    return areas


def _leaf_items(outline: list[_Heading]) -> list[ParsedItem]:
    items = []
    for area in outline:
        area_text = _clean(area.text)
        for problem in area.children:
            problem_text = _clean(problem.text)
            if not problem.children:
                items.append(
                    ParsedItem(
                        area=area_text,
                        title=problem_text,
                        problem=None,
                        description=_description(problem.body),
                    )
                )
            for point in problem.children:
                items.append(
                    ParsedItem(
                        area=area_text,
                        title=_subpoint_title(point.text),
                        problem=problem_text,
                        description=_description(point.body),
                    )
                )
    return items


def _subpoint_title(text: str) -> str:
    """The quoted problem of '针对“…”问题。', or the whole heading when it is worded otherwise."""
    match = _QUOTED_PROBLEM.match(text.strip())
    if match is None:
        return _clean(text)
    # Once the outer quotes are gone, inner single quotes become the outer level.
    return _clean(match["quoted"].replace("‘", "“").replace("’", "”"))


def _description(body: list[str]) -> str:
    return _DESCRIPTION_LABEL.sub("", "\n".join(body)).strip()


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().rstrip("。.")


def _read_contacts(text: str) -> NoticeContacts:
    found: dict[str, str] = {}
    for raw in text.splitlines():
        # NFKC turns full-width colons, digits and spaces into plain ones.
        match = _LABELLED_LINE.match(unicodedata.normalize("NFKC", raw).strip())
        if match is None:
            continue
        # The source writes "邮 编" with a space inside the label.
        field_name = _CONTACT_LABELS.get(re.sub(r"\s+", "", match["label"]))
        if field_name is not None:
            found.setdefault(field_name, match["value"].strip())
    missing = {"phone", "email", "postal_address", "postcode"} - found.keys()
    if missing:
        raise ValueError(f"the notice gives no {', '.join(sorted(missing))}")
    return NoticeContacts(**found)


def default_office_code(item: ParsedItem) -> str:
    """The office that answers comments on the item, chosen by the words of the item."""
    for text in (item.title, item.problem or ""):
        for office_code, keywords in ITEM_OFFICE_KEYWORDS:
            if any(keyword in text for keyword in keywords):
                return office_code
    return FALLBACK_OFFICE


def item_code(position: int) -> str:
    return f"{ITEM_CODE_PREFIX}{position:02d}"


def seed_demo(session: Session, *, now: datetime | None = None) -> str | None:
    """Create whatever demo data is missing; return the new admin's password, or None.

    Rows are looked up by their natural keys and only created when absent, so a second run
    adds nothing and keeps what an admin has edited since. Flushes, never commits.
    """
    now = now or utcnow()
    parsed = parse_notice(files("shared.demo").joinpath("notice.txt").read_text("utf-8"))
    offices = _ensure_offices(session)
    notice = _ensure_notice(session, parsed, now)
    _ensure_items(session, notice, parsed.items, offices)
    _ensure_routing_rules(session, offices)
    _ensure_inquiry_policy(session, notice)
    reply_templates.ensure_default_templates(session)
    _ensure_calendars(session, now)
    session.flush()
    return _ensure_admin(session)


def _ensure_calendars(session: Session, now: datetime) -> None:
    """This year's and next year's official calendar, where the package knows it and nobody
    entered one yet (next year's is published each November or December)."""
    this_year = now.astimezone(SHANGHAI).year
    for year in (this_year, this_year + 1):
        if year in working_calendar.official_years() and not working_calendar.has_calendar(
            session, year
        ):
            working_calendar.import_official_calendar(session, year)


def _ensure_offices(session: Session) -> dict[str, Office]:
    codes = [code for code, _name, _levels in DEMO_OFFICES]
    offices = {
        office.code: office
        for office in session.scalars(select(Office).where(Office.code.in_(codes)))
    }
    for code, name, review_levels in DEMO_OFFICES:
        if code not in offices:
            offices[code] = Office(
                code=code,
                name=name,
                email=f"{code}@{OFFICE_MAIL_DOMAIN}",
                review_levels=review_levels,
            )
            session.add(offices[code])
    session.flush()
    return offices


def _ensure_notice(session: Session, parsed: ParsedNotice, now: datetime) -> Notice:
    notice = session.scalar(select(Notice).where(Notice.slug == NOTICE_SLUG))
    if notice is not None:
        return notice
    notice = Notice(
        slug=NOTICE_SLUG,
        title=NOTICE_TITLE,
        issuer=NOTICE_ISSUER,
        issued_on=None,  # the text carries no publication date
        summary=NOTICE_SUMMARY,
        body=parsed.body,
        status=NoticeStatus.PUBLISHED,
        opens_at=now,
        closes_at=None,
        invites_web=True,
        contact_phone=parsed.contacts.phone,
        contact_email=parsed.contacts.email,
        postal_address=parsed.contacts.postal_address,
        postcode=parsed.contacts.postcode,
    )
    session.add(notice)
    session.flush()
    return notice


def _ensure_items(
    session: Session, notice: Notice, items: tuple[ParsedItem, ...], offices: dict[str, Office]
) -> None:
    codes = [item_code(position) for position in range(1, len(items) + 1)]
    existing = set(session.scalars(select(NoticeItem.code).where(NoticeItem.code.in_(codes))))
    for position, (code, item) in enumerate(zip(codes, items, strict=True), start=1):
        if code in existing:
            continue
        notice.items.append(
            NoticeItem(
                code=code,
                area=item.area,
                title=item.title,
                description=item.description,
                position=position,
                default_office=offices[default_office_code(item)],
            )
        )


def _ensure_routing_rules(session: Session, offices: dict[str, Office]) -> None:
    names = [rule.name for rule in DEMO_ROUTING_RULES]
    existing = set(session.scalars(select(RoutingRule.name).where(RoutingRule.name.in_(names))))
    for rule in DEMO_ROUTING_RULES:
        if rule.name in existing:
            continue
        session.add(
            RoutingRule(
                position=rule.position,
                name=rule.name,
                office=offices[rule.office_code],
                category=rule.category,
                keywords="\n".join(rule.keywords),
            )
        )


def _ensure_inquiry_policy(session: Session, notice: Notice) -> None:
    policy = session.scalar(
        select(DeadlinePolicy).where(
            DeadlinePolicy.notice_id == notice.id, DeadlinePolicy.category == INQUIRY_CATEGORY
        )
    )
    if policy is None:
        # The short limits many 12345 hotlines use for inquiries: 3 working days to
        # acknowledge, 13 to answer.
        session.add(
            DeadlinePolicy(
                notice_id=notice.id,
                category=INQUIRY_CATEGORY,
                acknowledge_days=3,
                reply_days=13,
                working_days=True,
            )
        )


def _ensure_admin(session: Session) -> str | None:
    if session.scalar(select(StaffUser.id).where(StaffUser.username == ADMIN_USERNAME)) is not None:
        return None
    password = secrets.token_urlsafe(12)
    create_staff(session, ADMIN_USERNAME, Role.ADMIN, password, display_name="系统管理员")
    return password
