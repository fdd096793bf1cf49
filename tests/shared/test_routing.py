"""Routing rules: which office a new case goes to, and what admins do to the rules."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError
from sqlalchemy import func, select, update

from shared.models import AuditEvent, Case, Office, RoutingRule
from shared.operations import routing
from shared.schemas.rule import RuleInputSchema
from tests.factories import make_case, make_staff


@pytest.fixture
def admin(db, demo):
    return make_staff(db, "boss", "admin")


def load(session, **form) -> routing.RuleFields:
    """The rule form's fields as an admin would post them, validated."""
    values = {"name": "测试规则", "office": "news", **form}
    return routing.RuleFields(**RuleInputSchema(routing.rule_choices(session)).load(values))


def add_rule(db, admin, **form) -> int:
    with db.transaction() as session:
        return routing.create_rule(session, load(session, **form), admin).id


def office_of(db, tracking_number: str) -> str | None:
    with db.session() as session:
        case = session.scalar(select(Case).where(Case.tracking_number == tracking_number))
        return case.office.code if case.office else None


def routed(db, **submission) -> str | None:
    """The office code a new case with these fields is routed to."""
    return office_of(db, make_case(db, **submission).case.tracking_number)


def test_keywords_match_whatever_the_width_and_case(db, admin):
    """A keyword typed in full-width capitals finds half-width lower case, and the reverse."""
    add_rule(db, admin, name="全角", keywords="ＡＢＣ", office="news")
    add_rule(db, admin, name="半角", keywords="xyz", office="civil")
    assert routed(db, body="abc公众号") == "news"
    assert routed(db, body="ＸＹＺ栏目") == "civil"


def test_any_of_several_chinese_keywords_matches(db, admin):
    """One keyword per line: any one of them in the subject or the text is enough."""
    add_rule(db, admin, keywords="路灯\n井盖\n 斑马线 ", office="civil")
    assert routed(db, body="小区门口井盖丢了") == "civil"
    assert routed(db, subject="斑马线", body="看不清了") == "civil"
    assert routed(db, body="路面坑洼") is None


def test_every_condition_that_is_set_must_hold(db, admin):
    """Keywords and kind of comment together: a praise without the keyword does not match."""
    add_rule(db, admin, keywords="路灯", category="complaint", office="civil")
    assert routed(db, body="路灯不亮", category="complaint") == "civil"
    assert routed(db, body="路灯修好了", category="praise") == "office"  # the demo praise rule
    assert routed(db, body="井盖丢了", category="complaint") is None


def test_notice_item_and_channel_conditions(db, admin):
    """A rule on an item and a channel catches a new case on that item by that channel."""
    add_rule(db, admin, notice_item="XC21-04", channel="phone", office="party")
    assert routed(db, notice_item="XC21-04", channel="phone", body="来电") == "party"
    assert routed(db, notice_item="XC21-04", body="网上留言") == "cyber"


def test_the_first_rule_by_position_wins(db, admin):
    """Two rules match; the earlier one decides, and the explanation names it and the keyword."""
    first = add_rule(db, admin, name="先", keywords="路灯", office="news")
    add_rule(db, admin, name="后", keywords="路灯", office="civil")
    receipt = make_case(db, body="路灯坏了")
    with db.session() as session:
        case = session.get(Case, receipt.case.id)
        assert case.office.code == "news"
        assert case.routing_rule_id == first
        assert case.routing_explanation == f"rule #{first} “先” (keyword “路灯”) → news"


def test_reordering_changes_where_the_next_case_goes(db, admin):
    """Moving the second rule above the first sends the next matching case to its office."""
    add_rule(db, admin, name="先", keywords="路灯", office="news")
    later = add_rule(db, admin, name="后", keywords="路灯", office="civil")
    before = make_case(db, body="路灯坏了").case.tracking_number
    with db.transaction() as session:
        routing.move_rule(session, session.get(RoutingRule, later), "up", admin)
    assert routed(db, body="路灯又坏了") == "civil"
    assert office_of(db, before) == "news"  # cases already routed stay where they are


def test_a_deactivated_rule_is_ignored_until_reactivated(db, admin):
    """Switched off, the rule no longer routes; switched on again, it does."""
    rule_id = add_rule(db, admin, keywords="路灯", office="civil")
    with db.transaction() as session:
        routing.set_active(session, session.get(RoutingRule, rule_id), False, admin)
    assert routed(db, body="路灯坏了") is None
    with db.transaction() as session:
        routing.set_active(session, session.get(RoutingRule, rule_id), True, admin)
    assert routed(db, body="路灯坏了") == "civil"


def test_unmatched_case_waits_in_triage_and_says_why(db, admin):
    """No rule, no item: no office, status received, and the explanation says so in words."""
    receipt = make_case(db, body="路面坑洼")
    with db.session() as session:
        case = session.get(Case, receipt.case.id)
        assert (case.office, case.status) == (None, "received")
        assert case.routing_explanation == (
            "no rule matched and no default office: waiting in triage"
        )


def test_sender_domain_matches_sub_domains_but_not_lookalikes(db, admin):
    """gov.cn catches a@gov.cn and a@mail.gov.cn, not a@evilgov.cn."""
    add_rule(db, admin, sender_domain=".GOV.cn", office="office")
    assert routed(db, body="来函", email="a@gov.cn") == "office"
    assert routed(db, body="来函", email="b@mail.gov.cn") == "office"
    assert routed(db, body="来函", email="c@evilgov.cn") is None
    assert routed(db, body="来函") is None


def test_each_rule_is_compiled_once_not_per_case(db, admin):
    """Routing many cases reuses each rule's compiled keywords."""
    add_rule(db, admin, keywords="路灯\n井盖", office="civil")
    make_case(db, body="第一件")
    routing.keyword_matcher.cache_clear()
    for number in range(5):
        make_case(db, body=f"第{number}件")
    with db.session() as session:
        keyword_rules = session.scalar(
            select(func.count()).where(RoutingRule.keywords != "", RoutingRule.active.is_(True))
        )
    assert routing.keyword_matcher.cache_info().misses == keyword_rules


def test_changes_are_audited_with_the_admin_and_no_personal_data(db, admin):
    """Create, edit, move and deactivate each leave an event naming the admin and the rule."""
    rule_id = add_rule(db, admin, name="旧名", keywords="路灯", office="civil")
    with db.transaction() as session:
        rule = session.get(RoutingRule, rule_id)
        routing.update_rule(session, rule, load(session, name="新名", keywords="路灯"), admin)
        routing.move_rule(session, rule, "up", admin)
        routing.set_active(session, rule, False, admin)
    with db.session() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action.like("rule.%")).order_by(AuditEvent.id)
        ).all()
    assert [event.action for event in events] == [
        "rule.created",
        "rule.updated",
        "rule.moved",
        "rule.deactivated",
    ]
    assert all(event.actor_id == admin.id and event.case_id is None for event in events)
    assert all(event.detail["rule"] == rule_id for event in events)
    assert events[1].detail["changed"] == {"name": "新名", "office": "news"}


def test_moving_renumbers_and_the_first_rule_cannot_go_higher(db, admin):
    """Positions are evenly spaced after a move; moving the top rule up changes nothing."""
    with db.transaction() as session:
        rules = routing.rules_in_order(session)
        routing.move_rule(session, rules[-1], "up", admin)
        routing.move_rule(session, rules[0], "up", admin)
    with db.session() as session:
        after = routing.rules_in_order(session)
        assert [rule.position for rule in after] == [10 * (n + 1) for n in range(len(after))]
        assert [rule.id for rule in after] == [
            *(rule.id for rule in rules[:-2]),
            rules[-1].id,
            rules[-2].id,
        ]
        moves = session.scalar(select(func.count()).where(AuditEvent.action == "rule.moved"))
        assert moves == 1


def test_preview_finds_recent_matching_cases_and_leaves_out_spam(db, admin):
    """The preview lists matching cases newest first, skips spam, and adds no rule."""
    older = make_case(db, body="路灯坏了很久").case.tracking_number
    spam = make_case(db, body="路灯广告").case.tracking_number
    make_case(db, body="井盖丢了")
    newer = make_case(db, subject="路灯", body="还是不亮").case.tracking_number
    with db.transaction() as session:
        session.execute(update(Case).where(Case.tracking_number == spam).values(status="spam"))
    with db.session() as session:
        rules_before = session.scalar(select(func.count()).select_from(RoutingRule))
        result = routing.preview(session, load(session, keywords="ＬＵ\n路灯", office="civil"))
        assert [row.tracking_number for row in result.rows] == [newer, older]
        assert (result.matched, result.examined) == (2, 3)
        assert result.rows[0].summary == "路灯"
        assert result.rows[1].summary == "路灯坏了很久"
        assert result.rows[0].rule_office == "县文明办"
        assert result.rows[0].current_office is None
        assert session.scalar(select(func.count()).select_from(RoutingRule)) == rules_before
        only_latest = routing.preview(session, load(session, keywords="路灯"), limit=1)
        assert [row.tracking_number for row in only_latest.rows] == [newer]


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"name": " "}, "name", "This field cannot be empty."),
        ({"office": "nowhere"}, "office", "Choose the office that answers."),
        ({"notice_item": "XC99-99"}, "notice_item", "Choose one of the listed items."),
        ({"category": "rant"}, "category", "Choose one of the listed kinds of comment."),
        ({"channel": "fax"}, "channel", "Choose one of the listed channels."),
        (
            {"sender_domain": "evil domain.cn"},
            "sender_domain",
            "Enter a mail domain such as gov.cn.",
        ),
        ({"sender_domain": "a_b.cn"}, "sender_domain", "Enter a mail domain such as gov.cn."),
        ({"keywords": "\n".join(f"词{n}" for n in range(201))}, "keywords", "Give at most 200"),
        ({"keywords": "长" * 101}, "keywords", "Keep each keyword to 100 characters"),
    ],
)
def test_invalid_rules_are_refused_field_by_field(db, admin, form, field, message):
    """Each kind of mistake is reported on the field it concerns."""
    with db.session() as session, pytest.raises(ValidationError) as refused:
        load(session, **{"keywords": "路灯", **form})
    assert any(text.startswith(message) for text in refused.value.messages[field])


def test_a_rule_needs_a_condition(db, admin):
    """A rule with no condition would match nothing, and the admin is told so."""
    with db.session() as session, pytest.raises(ValidationError) as refused:
        load(session, keywords=" \n ", sender_domain="")
    assert "a rule without conditions matches nothing" in refused.value.messages["_schema"][0]


def test_a_closed_office_cannot_be_chosen(db, admin):
    """Only active offices may be named by a rule."""
    with db.transaction() as session:
        session.execute(update(Office).where(Office.code == "news").values(active=False))
    with db.session() as session, pytest.raises(ValidationError) as refused:
        load(session, keywords="路灯", office="news")
    assert "office" in refused.value.messages
