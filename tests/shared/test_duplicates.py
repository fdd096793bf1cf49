"""Near-duplicate detection: campaigns of nearly the same letter end up in one cluster."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from shared.db import utcnow
from shared.models import AuditEvent, Case, CaseFingerprint, StaffUser
from shared.operations import duplicates
from tests.factories import make_case, make_staff

#: A complaint as a campaign circulates it: each sender puts in a name and a date.
CAMPAIGN = (
    "我是城关镇居民{name}，{date}到县委宣传部反映情况。去年巡察反馈指出县委理论学习中心组"
    "有计划不执行，整改通报称已全面完成整改，但据我们了解，今年上半年中心组仍只组织过一次"
    "集中学习，学习记录也不完整，与通报所说明显不符。请有关部门认真核实整改落实情况，公开说明"
    "具体措施、责任人和完成时限，并把核查结果及时向社会公布，接受群众监督。{extra}"
)
LETTERS = (
    {"name": "张建国", "date": "3月2日", "extra": ""},
    {"name": "李秀英", "date": "3月5日", "extra": ""},
    {"name": "王志强", "date": "三月八日", "extra": "希望尽快给予答复。"},
    {"name": "赵敏", "date": "3月9日", "extra": "谢谢！"},
    {"name": "刘德华", "date": "3月12日", "extra": "此事群众议论很多，盼早日解决。"},
)
UNRELATED = (
    "县城人民广场晚上的广场舞音响声音太大，一直持续到夜里十一点，附近小区的老人和孩子"
    "都休息不好。希望有关部门协调一下，规定结束时间并控制音量。"
)

NEWSPAPER = (
    "订阅的党报党刊经常送不到村里，村委会的阅览室里放的还是上个月的报纸。"
    "请宣传部门和邮政部门沟通，保证报刊按时投递到村。"
)


def _cluster_of(db, case: Case) -> int | None:
    with db.session() as session:
        return session.get(Case, case.id).cluster_id


def _triager(db) -> StaffUser:
    make_staff(db, "triage1", "triager")
    with db.session() as session:
        return session.scalar(select(StaffUser).where(StaffUser.username == "triage1"))


def test_campaign_letters_share_one_cluster(db, demo):
    """Five copies of a letter with other names, dates and an added sentence form one campaign."""
    cases = [make_case(db, body=CAMPAIGN.format(**letter)).case for letter in LETTERS]
    clusters = {_cluster_of(db, case) for case in cases}
    assert len(clusters) == 1 and None not in clusters
    with db.session() as session:
        summaries = duplicates.clusters_for(session, _triager(db))
        assert [(s.cluster.kind, s.count) for s in summaries] == [("campaign", 5)]
        assert summaries[0].cluster.label.startswith("我是城关镇居民张建国")


def test_unrelated_complaint_stays_alone(db, demo):
    """A different complaint received in the middle of a campaign joins no cluster."""
    make_case(db, body=CAMPAIGN.format(**LETTERS[0]))
    make_case(db, body=CAMPAIGN.format(**LETTERS[1]))
    alone = make_case(db, body=UNRELATED).case
    assert _cluster_of(db, alone) is None


def test_short_texts_never_cluster(db, demo):
    """“好” and “谢谢” sent again and again say too little to call them the same matter."""
    cases = [make_case(db, body=body).case for body in ("好", "谢谢", "好", "谢谢", "谢谢！")]
    assert all(_cluster_of(db, case) is None for case in cases)
    with db.session() as session:
        assert session.scalars(select(CaseFingerprint)).all() == []


def test_width_and_case_do_not_matter(db, demo):
    """Full-width letters, upper case and other punctuation still make the same text."""
    first = make_case(
        db, body="县融媒体中心APP的Live直播经常卡顿，News栏目三天没有更新，请尽快修复。"
    )
    second = make_case(
        db, body="县融媒体中心ａｐｐ的ＬＩＶＥ直播经常卡顿!ｎｅｗｓ栏目 三天没有更新……请尽快修复"
    )
    assert _cluster_of(db, first.case) == _cluster_of(db, second.case) is not None


def test_clustering_is_audited_without_personal_data(db, demo):
    """The audit trail says which cluster and how similar, and nothing of the letter."""
    make_case(db, body=CAMPAIGN.format(**LETTERS[0]))
    second = make_case(db, body=CAMPAIGN.format(**LETTERS[1])).case
    with db.session() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "case.clustered"))
        assert event.case_id == second.id
        assert set(event.detail) == {"cluster_id", "similarity"}
        assert event.detail["cluster_id"] == session.get(Case, second.id).cluster_id
        assert 0.7 <= event.detail["similarity"] < 1


def test_spam_and_old_cases_are_no_twins(db, demo):
    """A twin marked spam, or received more than half a year before, does not pull a case in."""
    old = make_case(db, body=CAMPAIGN.format(**LETTERS[0]), received_at=utcnow() - timedelta(200))
    spam = make_case(db, body=CAMPAIGN.format(**LETTERS[1])).case
    with db.transaction() as session:
        session.execute(update(Case).where(Case.id == spam.id).values(status="spam"))
    new = make_case(db, body=CAMPAIGN.format(**LETTERS[2])).case
    assert _cluster_of(db, old.case) is None
    assert _cluster_of(db, new) is None


def test_join_cluster_moves_a_case_and_the_counts_follow(db, demo):
    """Marking a campaign letter as duplicate of another case moves it; both counts change."""
    campaign = [make_case(db, body=CAMPAIGN.format(**letter)).case for letter in LETTERS[:3]]
    original = make_case(db, body=UNRELATED).case
    copy = make_case(db, body="广场舞扰民的问题我上周已经反映过，这次再说一遍").case
    triager = _triager(db)
    with db.transaction() as session:
        duplicates.join_cluster(
            session, session.get(Case, copy.id), session.get(Case, original.id), "duplicate"
        )
    with db.session() as session:
        counts = {s.cluster.kind: s.count for s in duplicates.clusters_for(session, triager)}
        assert counts == {"campaign": 3, "duplicate": 2}

    with db.transaction() as session:
        duplicates.join_cluster(
            session,
            session.get(Case, campaign[2].id),
            session.get(Case, original.id),
            "duplicate",
        )
    with db.session() as session:
        counts = {s.cluster.kind: s.count for s in duplicates.clusters_for(session, triager)}
        assert counts == {"campaign": 2, "duplicate": 3}

    with db.transaction() as session:
        duplicates.join_cluster(
            session,
            session.get(Case, campaign[1].id),
            session.get(Case, original.id),
            "duplicate",
        )
    with db.session() as session:
        summaries = duplicates.clusters_for(session, triager)
        assert [(s.cluster.kind, s.count) for s in summaries] == [("duplicate", 4)]
        assert summaries[0].cluster.label == UNRELATED[:30] + "…"


def test_clusters_page_newest_activity_first(db, demo):
    """A page of clusters continues after the last one of the previous page."""
    start = utcnow() - timedelta(days=10)
    texts = [CAMPAIGN.format(**LETTERS[0]), UNRELATED, NEWSPAPER]
    for day, text in enumerate(texts):
        make_case(db, body=text, received_at=start + timedelta(days=day))
    make_case(db, body=UNRELATED, received_at=start + timedelta(days=5))
    for day, text in enumerate(texts):
        make_case(db, body=text, received_at=start + timedelta(days=day, hours=1))
    triager = _triager(db)
    with db.session() as session:
        everything = duplicates.clusters_for(session, triager)
        assert [s.count for s in everything] == [3, 2, 2]
        assert everything[0].latest == start + timedelta(days=5)
        first = duplicates.clusters_for(session, triager, limit=2)
        rest = duplicates.clusters_for(session, triager, before_id=first[-1].cluster.id)
        assert [s.cluster.id for s in first + rest] == [s.cluster.id for s in everything]
