"""Which office answers a case: the first matching rule, else the notice item's default office."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.models import Case, RoutingRule
from shared.search import normalise


def rule_matches(rule: RoutingRule, case: Case) -> bool:
    conditions = []
    if rule.notice_item_id is not None:
        conditions.append(rule.notice_item_id == case.notice_item_id)
    if rule.category:
        conditions.append(rule.category == case.category)
    if rule.channel:
        conditions.append(rule.channel == case.channel)
    if rule.sender_domain:
        domain = (case.submitter_email or "").rpartition("@")[2].lower()
        wanted = rule.sender_domain.lower().lstrip(".")
        conditions.append(domain == wanted or domain.endswith("." + wanted))
    keywords = rule.keyword_list
    if keywords:
        text = normalise(f"{case.subject}\n{case.body}")
        conditions.append(any(normalise(keyword) in text for keyword in keywords))
    return bool(conditions) and all(conditions)


def route(session: Session, case: Case) -> None:
    """Set the case's office and say why; a case nothing matches waits in triage."""
    rules = session.scalars(
        select(RoutingRule)
        .where(RoutingRule.active.is_(True))
        .order_by(RoutingRule.position, RoutingRule.id)
    ).all()
    for rule in rules:
        if rule_matches(rule, case):
            case.office = rule.office
            case.routing_rule_id = rule.id
            case.routing_explanation = f"rule #{rule.id} “{rule.name}” → {rule.office.code}"
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
