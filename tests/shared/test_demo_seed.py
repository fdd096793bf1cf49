from __future__ import annotations

from datetime import UTC, datetime
from importlib.resources import files

import pytest
from sqlalchemy import func, select

from shared.db import Base, Database
from shared.demo.seed import (
    DEMO_OFFICES,
    DEMO_ROUTING_RULES,
    NOTICE_SLUG,
    NOTICE_SUMMARY,
    parse_notice,
    seed_demo,
)

# Importing the models registers their tables on Base.metadata.
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
from shared.operations.accounts import authenticate_password

NOW = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)

EXPECTED_OFFICES = {
    "XC21-01": "theory",
    "XC21-02": "office",
    "XC21-03": "theory",
    "XC21-04": "cyber",
    "XC21-05": "theory",
    "XC21-06": "media",
    "XC21-07": "party",
    "XC21-08": "finance",
    "XC21-09": "finance",
    "XC21-10": "party",
    "XC21-11": "party",
    "XC21-12": "office",
}


def notice_text() -> str:
    return files("shared.demo").joinpath("notice.txt").read_text("utf-8")


@pytest.fixture
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path}/t.db")
    Base.metadata.create_all(database.engine)
    yield database
    database.dispose()


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_parse_finds_three_areas_and_twelve_items():
    """The notice's outline parses into its 3 areas and 12 leaf items, sub-points included."""
    parsed = parse_notice(notice_text())

    assert parsed.areas == (
        "学习贯彻落实党的路线方针政策和党中央重大决策部署方面",
        "落实管党治党政治责任和整治作风问题方面",
        "党组织建设、党内政治生活和单位管理方面",
    )
    assert len(parsed.items) == 12
    first, last = parsed.items[0], parsed.items[-1]
    assert first.title == "关于党中央重大决策部署学习贯彻不到位的问题"
    assert first.area == parsed.areas[0]
    assert first.problem is None
    assert first.description.startswith("一是创新学习方式。")
    assert last.title == "关于领导班子用制度管人管事意识不强,管理制度更新不及时的问题"
    assert last.area == parsed.areas[2]
    assert parsed.items[1].problem == "关于主管领域工作推动不力,部门职能履行不到位的问题"
    assert parsed.items[3].title == "对网络舆情转办情况跟踪问效不到位"
    # Quotes nested inside the quoted problem survive; single quotes become the outer level.
    assert "“三审”制度" in parsed.items[5].title
    assert parsed.items[10].title == "“三会一课”制度落实不严格"
    assert all(
        item.description and not item.description.startswith("整改情况") for item in parsed.items
    )
    assert parsed.body == notice_text()


def test_parse_reads_contacts():
    """The phone, email, postal address and postcode at the end are read despite odd spacing."""
    contacts = parse_notice(notice_text()).contacts

    assert contacts.phone == "0932-5552740"
    assert contacts.email == "tongweixcb@163.com"
    assert contacts.postal_address == "通渭县文化街102号县委宣传部办公室613室"
    assert contacts.postcode == "743300"


def test_parse_accepts_full_width_punctuation():
    """A copy with full-width parentheses and colons parses to the same items and contacts."""
    text = notice_text()
    full_width = text.replace("(", "（").replace(")", "）").replace(":", "：")

    original, converted = parse_notice(text), parse_notice(full_width)

    assert converted.areas == original.areas
    assert [item.title for item in converted.items] == [item.title for item in original.items]
    assert converted.contacts == original.contacts


def test_parse_rejects_a_notice_with_items_missing():
    """A notice cut short does not give 12 items and is refused rather than seeded half."""
    text = notice_text()
    truncated = text[: text.index("(三)")]

    with pytest.raises(ValueError, match="12 items"):
        parse_notice(truncated)


def test_summary_states_facts_of_the_notice():
    """The composed summary only repeats facts the notice itself states."""
    text = notice_text()
    for fact in (
        "2021年4月26日至6月25日",
        "市委第七提级交叉巡察组",
        "7月26日",
        "3个方面12项具体问题",
    ):
        assert fact in NOTICE_SUMMARY
        assert fact in text


def test_seed_creates_the_published_notice_offices_rules_and_admin(db):
    """One run publishes the notice with its items and contacts, and creates everything else."""
    with db.transaction() as session:
        password = seed_demo(session, now=NOW)

    with db.transaction() as session:
        notice = session.scalar(select(Notice).where(Notice.slug == NOTICE_SLUG))
        assert notice.status == NoticeStatus.PUBLISHED
        assert notice.is_open(NOW)
        assert notice.opens_at == NOW
        assert notice.closes_at is None
        assert notice.issued_on is None
        assert notice.contact_phone == "0932-5552740"
        assert notice.contact_email == "tongweixcb@163.com"
        assert notice.postcode == "743300"
        assert [item.code for item in notice.items] == [f"XC21-{n:02d}" for n in range(1, 13)]
        assert {item.code: item.default_office.code for item in notice.items} == EXPECTED_OFFICES

        offices = session.scalars(select(Office)).all()
        assert {office.code for office in offices} == {code for code, _, _ in DEMO_OFFICES}
        assert all(office.email.endswith("@xcb.tongwei.example") for office in offices)

        rules = session.scalars(select(RoutingRule).order_by(RoutingRule.position)).all()
        assert [rule.name for rule in rules] == [rule.name for rule in DEMO_ROUTING_RULES]
        assert rules[0].keyword_list == ["舆情", "网络", "网评", "谣言"]
        assert rules[-1].category == "praise"
        assert rules[-1].office.code == "office"

        policy = session.scalar(select(DeadlinePolicy))
        assert (policy.notice_id, policy.category) == (notice.id, "inquiry")
        assert (policy.acknowledge_days, policy.reply_days, policy.working_days) == (3, 13, True)

        assert password is not None
        admin = authenticate_password(session, "admin", password)
        assert admin is not None
        assert admin.role == Role.ADMIN


def test_seed_twice_keeps_one_copy_and_admin_edits(db):
    """A second run adds nothing, returns no password and leaves an admin's edits alone."""
    with db.transaction() as session:
        assert seed_demo(session, now=NOW) is not None
    with db.transaction() as session:
        session.scalar(select(Office).where(Office.code == "news")).name = "新闻科"
        session.scalar(select(Notice)).status = NoticeStatus.WITHDRAWN

    with db.transaction() as session:
        assert seed_demo(session, now=NOW) is None

    with db.transaction() as session:
        assert count(session, Notice) == 1
        assert count(session, NoticeItem) == 12
        assert count(session, Office) == 8
        assert count(session, RoutingRule) == len(DEMO_ROUTING_RULES)
        assert count(session, DeadlinePolicy) == 1
        assert count(session, StaffUser) == 1
        assert session.scalar(select(Office.name).where(Office.code == "news")) == "新闻科"
        assert session.scalar(select(Notice.status)) == NoticeStatus.WITHDRAWN
