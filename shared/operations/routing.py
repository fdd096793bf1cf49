"""Which office answers a case: the first matching rule, else the notice item's default office.

And what admins do to the rules: create and edit them, put them in order, switch them off and
on again (never delete: cases refer to the rule that routed them), and preview a rule over the
latest cases before saving it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from shared.i18n import N_
from shared.models import Case, CaseStatus, NoticeItem, RoutingRule, StaffUser
from shared.operations import audit, offices
from shared.operations.errors import StepRefused
from shared.schemas.rule import RuleChoices, keyword_lines
from shared.search import normalise

#: Gap between neighbouring positions, so a rule can be slotted in by hand in the database.
POSITION_STEP = 10
#: How much of a case the preview shows when it has no subject.
SUMMARY_CHARS = 60


@dataclass
class RuleFields:
    """A rule's name, office and conditions, validated; codes not yet looked up."""

    name: str
    office: str
    notice_item: str | None = None
    category: str | None = None
    channel: str | None = None
    #: One keyword per line, stripped, blank lines and repeats dropped.
    keywords: str = ""
    sender_domain: str | None = None


# --- Matching ---------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def keyword_matcher(rule_id: int | None, keywords: str) -> re.Pattern[str] | None:
    """One pattern that finds any of the keywords in normalised text; None for no keywords.

    Keywords are normalised like the text (NFKC, case-folded), so ＡＢＣ finds abc, and are
    tried longest first, so the keyword reported is the most specific one. Cached by rule and
    keywords: :func:`route` compiles each rule once, and an edited rule gets a new pattern
    without anything to invalidate.
    """
    terms = {normalise(keyword) for keyword in keyword_lines(keywords)} - {""}
    if not terms:
        return None
    ordered = sorted(terms, key=lambda term: (-len(term), term))
    return re.compile("|".join(re.escape(term) for term in ordered))


class _CaseFacts:
    """What rules look at in a case, each worked out once however many rules ask."""

    def __init__(self, case: Case) -> None:
        self.case = case
        # A case being received has its item as an object, not yet as a column value.
        item_id = case.notice_item_id
        if item_id is None and case.notice_item is not None:
            item_id = case.notice_item.id
        self.notice_item_id = item_id

    @cached_property
    def text(self) -> str:
        return normalise(f"{self.case.subject or ''}\n{self.case.body or ''}")

    @cached_property
    def sender_domain(self) -> str:
        return (self.case.submitter_email or "").rpartition("@")[2].lower().rstrip(".")


@dataclass(frozen=True)
class Hit:
    """A rule matched; ``keyword`` is the keyword found, when the rule has keywords."""

    keyword: str | None = None


def has_condition(rule: RoutingRule) -> bool:
    return bool(
        rule.notice_item_id is not None
        or rule.category
        or rule.channel
        or rule.sender_domain
        or keyword_lines(rule.keywords or "")
    )


def _match(rule: RoutingRule, facts: _CaseFacts) -> Hit | None:
    """Every condition the rule sets holds for the case; cheap ones are checked first."""
    if not has_condition(rule):
        return None
    if rule.notice_item_id is not None and rule.notice_item_id != facts.notice_item_id:
        return None
    if rule.category and rule.category != facts.case.category:
        return None
    if rule.channel and rule.channel != facts.case.channel:
        return None
    if rule.sender_domain:
        wanted = rule.sender_domain.lower().lstrip(".")
        domain = facts.sender_domain
        if not (domain == wanted or domain.endswith("." + wanted)):
            return None
    matcher = keyword_matcher(rule.id, rule.keywords or "")
    if matcher is None:
        return Hit()
    found = matcher.search(facts.text)
    return Hit(found.group()) if found else None


def rule_matches(rule: RoutingRule, case: Case) -> bool:
    return _match(rule, _CaseFacts(case)) is not None


def route(session: Session, case: Case) -> None:
    """Set the case's office and say why; a case nothing matches waits in triage."""
    rules = session.scalars(
        select(RoutingRule)
        .where(RoutingRule.active.is_(True))
        .order_by(RoutingRule.position, RoutingRule.id)
    ).all()
    facts = _CaseFacts(case)
    for rule in rules:
        hit = _match(rule, facts)
        if hit is not None:
            case.office = rule.office
            case.routing_rule_id = rule.id
            because = f" (keyword “{hit.keyword}”)" if hit.keyword else ""
            case.routing_explanation = (
                f"rule #{rule.id} “{rule.name}”{because} → {rule.office.code}"
            )
            return
    item = case.notice_item
    if item is not None and item.default_office is not None:
        case.office = item.default_office
        case.routing_explanation = (
            f"default office of item {item.code} → {item.default_office.code}"
        )
        return
    case.office = None
    case.routing_explanation = "no rule matched and no default office: waiting in triage"


def explain(session: Session, case: Case) -> tuple[str, dict[str, str]]:
    """Why the case went where it first went, as a message (a msgid and its values) for the
    reader's language; ``routing_explanation`` keeps the same in a fixed, technical form."""
    rule = session.get(RoutingRule, case.routing_rule_id) if case.routing_rule_id else None
    if rule is not None:
        hit = _match(rule, _CaseFacts(case)) if rule.active else None
        values = {"rule": rule.name, "office": rule.office.name}
        if hit is not None and hit.keyword:
            return N_("Rule “%(rule)s” matched the keyword “%(keyword)s”: sent to %(office)s."), {
                **values,
                "keyword": hit.keyword,
            }
        return N_("Rule “%(rule)s” matched: sent to %(office)s."), values
    item = case.notice_item
    if case.routing_explanation.startswith("default office") and item and item.default_office:
        return N_("No rule matched: the default office of item %(item)s, %(office)s."), {
            "item": item.code,
            "office": item.default_office.name,
        }
    return N_("No rule matched and the item names no office: the case waited for triage."), {}


# --- What admins do to the rules ----------------------------------------------------------


def rule_choices(session: Session) -> RuleChoices:
    """The offices a rule may name (active ones) and the notice items it may test."""
    active = offices.active_offices(session)
    items = session.scalars(
        select(NoticeItem).order_by(NoticeItem.notice_id, NoticeItem.position, NoticeItem.id)
    ).all()
    return RuleChoices(
        offices={office.code: office.name for office in active},
        notice_items={item.code: item.title for item in items},
    )


def rules_in_order(session: Session) -> list[RoutingRule]:
    """Every rule, active or not, in the order they are tried."""
    return list(
        session.scalars(
            select(RoutingRule)
            .options(selectinload(RoutingRule.office), selectinload(RoutingRule.notice_item))
            .order_by(RoutingRule.position, RoutingRule.id)
        )
    )


def get_rule(session: Session, rule_id: int) -> RoutingRule | None:
    return session.get(RoutingRule, rule_id)


def create_rule(session: Session, fields: RuleFields, actor: StaffUser) -> RoutingRule:
    """A new rule, tried after all the others."""
    last = session.scalar(select(func.max(RoutingRule.position)))
    rule = RoutingRule(position=(last or 0) + POSITION_STEP, active=True)
    _apply(session, rule, fields)
    session.add(rule)
    session.flush()
    audit.record(
        session, "rule.created", actor=actor, rule=rule.id, name=rule.name, **_described(rule)
    )
    return rule


def update_rule(
    session: Session, rule: RoutingRule, fields: RuleFields, actor: StaffUser
) -> RoutingRule:
    """The rule's name, office and conditions as given; the audit trail says what changed."""
    before = _described(rule) | {"name": rule.name}
    _apply(session, rule, fields)
    after = _described(rule) | {"name": rule.name}
    changed = {key: value for key, value in after.items() if before[key] != value}
    if changed:
        session.flush()
        audit.record(
            session, "rule.updated", actor=actor, rule=rule.id, name=rule.name, changed=changed
        )
    return rule


class Direction:
    UP = "up"
    DOWN = "down"
    ALL = (UP, DOWN)


def move_rule(session: Session, rule: RoutingRule, direction: str, actor: StaffUser) -> RoutingRule:
    """Swap the rule with its neighbour and number all rules again, evenly spaced."""
    if direction not in Direction.ALL:
        raise ValueError(f"unknown direction: {direction!r}")
    ordered = list(
        session.scalars(
            select(RoutingRule)
            .order_by(RoutingRule.position, RoutingRule.id)
            .with_for_update()  # two admins reordering at once must not interleave
        )
    )
    index = ordered.index(rule)
    other = index - 1 if direction == Direction.UP else index + 1
    if not 0 <= other < len(ordered):
        return rule  # already first (or last): nothing changes, nothing to record
    ordered[index], ordered[other] = ordered[other], ordered[index]
    for number, each in enumerate(ordered, start=1):
        each.position = number * POSITION_STEP
    session.flush()
    audit.record(
        session,
        "rule.moved",
        actor=actor,
        rule=rule.id,
        name=rule.name,
        direction=direction,
        position=rule.position,
    )
    return rule


def set_active(session: Session, rule: RoutingRule, active: bool, actor: StaffUser) -> RoutingRule:
    """Switch a rule off (new cases no longer see it) or on again."""
    if rule.active == active:
        return rule
    rule.active = active
    session.flush()
    action = "rule.reactivated" if active else "rule.deactivated"
    audit.record(session, action, actor=actor, rule=rule.id, name=rule.name)
    return rule


def _apply(session: Session, rule: RoutingRule, fields: RuleFields) -> None:
    office = offices.office_by_code(session, fields.office)
    if office is None:  # closed between the form's check and now
        raise StepRefused(N_("Choose the office that answers."), "office")
    item = None
    if fields.notice_item is not None:
        item = session.scalar(select(NoticeItem).where(NoticeItem.code == fields.notice_item))
        if item is None:
            raise StepRefused(N_("Choose one of the listed items."), "notice_item")
    rule.name = fields.name
    rule.office = office
    rule.notice_item = item
    rule.category = fields.category
    rule.channel = fields.channel
    rule.keywords = fields.keywords
    rule.sender_domain = fields.sender_domain


def _described(rule: RoutingRule) -> dict[str, Any]:
    """The rule's office and conditions for the audit trail: facts, no personal data."""
    return {
        "office": rule.office.code,
        "notice_item": rule.notice_item.code if rule.notice_item else None,
        "category": rule.category,
        "channel": rule.channel,
        "keywords": keyword_lines(rule.keywords or ""),
        "sender_domain": rule.sender_domain,
    }


# --- Preview ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewRow:
    tracking_number: str
    #: The subject, or the start of the text when there is none.
    summary: str
    #: Name of the office the case is with now; None while it waits in triage.
    current_office: str | None
    #: Name of the office the rule would send it to.
    rule_office: str
    keyword: str | None


@dataclass(frozen=True)
class Preview:
    rows: list[PreviewRow]
    #: How many recent cases were tried.
    examined: int

    @property
    def matched(self) -> int:
        return len(self.rows)


def preview(session: Session, fields: RuleFields, limit: int = 200) -> Preview:
    """Which of the last ``limit`` cases (newest first, spam left out) the rule would match.

    Nothing is saved: the rule is tried as typed, without being added to the session. Whether
    an earlier rule would catch a case first is not considered.
    """
    office = offices.office_by_code(session, fields.office, active_only=False)
    item = None
    if fields.notice_item is not None:
        item = session.scalar(select(NoticeItem).where(NoticeItem.code == fields.notice_item))
    trial = RoutingRule(
        name=fields.name,
        notice_item_id=item.id if item is not None else None,
        category=fields.category,
        channel=fields.channel,
        keywords=fields.keywords,
        sender_domain=fields.sender_domain,
    )
    cases = session.scalars(
        select(Case)
        .where(Case.status != CaseStatus.SPAM)
        .options(selectinload(Case.office))
        .order_by(Case.received_at.desc(), Case.id.desc())
        .limit(limit)
    ).all()
    rows = []
    for case in cases:
        hit = _match(trial, _CaseFacts(case))
        if hit is None:
            continue
        rows.append(
            PreviewRow(
                tracking_number=case.tracking_number,
                summary=_summary(case),
                current_office=case.office.name if case.office else None,
                rule_office=office.name if office else fields.office,
                keyword=hit.keyword,
            )
        )
    return Preview(rows=rows, examined=len(cases))


def _summary(case: Case) -> str:
    text = " ".join((case.subject or case.body or "").split())
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"
