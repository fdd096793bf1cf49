"""Reply templates: filled in for a case (:func:`fill_template`, what the reply composer starts
with), the formal notices a new installation starts with, and what admins do to templates:
list, create, edit, switch off and on again, and preview on a real case exactly as the
composer would fill them in.

A template is never deleted: a reply does not record which template it started from, so
there is no telling whether replies used it; switching it off takes it out of the composer.
A template may name only the :data:`VARIABLES` that :func:`fill_template` fills in.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.db import SHANGHAI, utcnow
from shared.i18n import N_
from shared.models import Case, ReplyKind, ReplyTemplate, StaffUser
from shared.operations import access, audit
from shared.operations.errors import StepRefused
from shared.schemas.reply_template import text_problem
from shared.security import normalise_tracking_number

#: The variables :func:`fill_template` fills in, with what each becomes (msgids).
VARIABLES: dict[str, str] = {
    "name": N_(
        "the citizen’s name (empty when they stayed anonymous, or for staff who may "
        "not see a confidential citizen’s name)"
    ),
    "tracking_number": N_("the case’s tracking number"),
    "received_date": N_("the day the comment was received"),
    "reply_due": N_("the day the reply is due"),
    "office": N_("the office handling the case"),
    "today": N_("today’s date"),
    "staff": N_("the name of the member of staff writing the reply"),
    "subject": N_("the subject of the comment"),
}


@dataclass
class TemplateFields:
    """A template as an admin types it (``shared.schemas.reply_template`` checks the form)."""

    name: str
    kind: str
    language: str
    body: str


def check_text(body: str) -> None:
    """Refused (at ``body``) unless the text names only :data:`VARIABLES`, written plainly
    (see :func:`shared.schemas.reply_template.text_problem`)."""
    problem = text_problem(body, VARIABLES)
    if problem is not None:
        raise StepRefused(problem, "body")


# --- Filling in ---------------------------------------------------------------------------


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill_template(
    template_body: str, case: Case, user: StaffUser, *, now: datetime | None = None
) -> str:
    """A template's text with its variables filled in for this case: {name}, {tracking_number},
    {received_date}, {reply_due}, {office}, {today}, {staff}. Unknown ones stay as written."""
    now = now or utcnow()
    # A confidential citizen's name is not filled in for those who may not see it.
    name = case.submitter_name if access.may_see_submitter(user, case) else ""
    values = _Blank(
        name=name or "",
        tracking_number=case.tracking_number,
        received_date=_date(case.received_at),
        reply_due=_date(case.reply_due),
        office=case.office.name if case.office else "",
        today=_date(now),
        staff=user.display_name or user.username,
        subject=case.subject,
    )
    names = {name for _text_, name, _spec, _conv in string.Formatter().parse(template_body) if name}
    if any(not name.isidentifier() for name in names):
        return template_body  # braces that are not variables: leave the text alone
    return template_body.format_map(values)


def _date(value: datetime | None) -> str:
    return f"{value.astimezone(SHANGHAI):%Y年%m月%d日}" if value else ""


def templates_for(session: Session, language: str = "zh") -> list[ReplyTemplate]:
    return list(
        session.scalars(
            select(ReplyTemplate)
            .where(ReplyTemplate.active.is_(True), ReplyTemplate.language == language)
            .order_by(ReplyTemplate.kind, ReplyTemplate.name)
        )
    )


#: The formal notices, as the demo and a new installation start with them.
DEFAULT_TEMPLATES: tuple[tuple[str, str, str], ...] = (
    (
        "受理告知",
        ReplyKind.ACCEPTANCE,
        "{name}：\n\n您于{received_date}提出的意见建议（查询编号 {tracking_number}）已收悉。"
        "经审查，符合受理条件，我单位决定予以受理，交由{office}办理。\n\n"
        "我们将在{reply_due}前向您作出答复。如有新的情况，可回复本邮件或在查询页面补充。\n\n"
        "{today}",
    ),
    (
        "不予受理告知",
        ReplyKind.REFUSAL,
        "{name}：\n\n您于{received_date}提出的事项（查询编号 {tracking_number}）已收悉。"
        "经审查，该事项不属于本单位职责范围（或已经依法处理），根据《信访工作条例》的规定，"
        "决定不予受理。理由如下：\n\n（请填写理由）\n\n"
        "您可以向有权处理的机关提出，或依照法律法规规定的途径寻求解决。"
        "对本告知有异议的，可以自收到之日起30日内向我单位的上一级机关请求复查。\n\n{today}",
    ),
    (
        "延期告知",
        ReplyKind.EXTENSION,
        "{name}：\n\n您提出的事项（查询编号 {tracking_number}）因情况复杂，"
        "经批准，办理期限延长至{reply_due}。延期理由：\n\n（请填写理由）\n\n"
        "给您带来不便，敬请谅解。\n\n{today}",
    ),
    (
        "答复意见",
        ReplyKind.ANSWER,
        "{name}：\n\n您于{received_date}提出的意见建议（查询编号 {tracking_number}）收悉。"
        "经{office}调查核实，现答复如下：\n\n（请填写答复内容）\n\n"
        "感谢您对我们工作的关心和监督。如对本答复意见不服，"
        "可以自收到之日起30日内请求本单位的上一级机关复查。"
        "欢迎您对办理结果进行满意度评价。\n\n{today}",
    ),
)


def ensure_default_templates(session: Session) -> int:
    """Add the formal notices that are missing (by name); returns how many were added."""
    existing = set(session.scalars(select(ReplyTemplate.name)))
    added = 0
    for name, kind, body in DEFAULT_TEMPLATES:
        if name not in existing:
            session.add(ReplyTemplate(name=name, kind=kind, language="zh", body=body))
            added += 1
    session.flush()
    return added


# --- Listing and editing -----------------------------------------------------------------


def list_templates(session: Session) -> list[ReplyTemplate]:
    """Every template, active or not: by language, then kind as the form orders them, name."""
    templates = session.scalars(select(ReplyTemplate)).all()
    order = {kind: position for position, kind in enumerate(ReplyKind.ALL)}
    return sorted(
        templates,
        key=lambda t: (t.language != "zh", t.language, order.get(t.kind, len(order)), t.name),
    )


def get_template(session: Session, template_id: int) -> ReplyTemplate | None:
    return session.get(ReplyTemplate, template_id)


def create_template(session: Session, fields: TemplateFields, actor: StaffUser) -> ReplyTemplate:
    template = ReplyTemplate(active=True)
    _apply(session, template, fields)
    session.add(template)
    session.flush()
    audit.record(
        session,
        "template.created",
        actor=actor,
        template=template.id,
        name=template.name,
        kind=template.kind,
        language=template.language,
    )
    return template


def update_template(
    session: Session, template: ReplyTemplate, fields: TemplateFields, actor: StaffUser
) -> ReplyTemplate:
    before = {name: getattr(template, name) for name in ("name", "kind", "language", "body")}
    _apply(session, template, fields)
    changed = sorted(name for name, value in before.items() if getattr(template, name) != value)
    session.flush()
    if changed:
        audit.record(
            session,
            "template.updated",
            actor=actor,
            template=template.id,
            name=template.name,
            changed=changed,
        )
    return template


def set_active(
    session: Session, template: ReplyTemplate, active: bool, actor: StaffUser
) -> ReplyTemplate:
    """Switch a template off (the composer no longer offers it) or on again."""
    if template.active == active:
        return template
    template.active = active
    session.flush()
    action = "template.reactivated" if active else "template.deactivated"
    audit.record(session, action, actor=actor, template=template.id, name=template.name)
    return template


def _apply(session: Session, template: ReplyTemplate, fields: TemplateFields) -> None:
    check_text(fields.body)  # the schema checked already; the rule lives here
    clash = session.scalar(
        select(ReplyTemplate.id).where(
            func.lower(ReplyTemplate.name) == fields.name.lower(),
            ReplyTemplate.language == fields.language,
            ReplyTemplate.id != (template.id or 0),
        )
    )
    if clash is not None:
        raise StepRefused(N_("Another template in this language has this name."), "name")
    template.name = fields.name
    template.kind = fields.kind
    template.language = fields.language
    template.body = fields.body


# --- Preview ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    """A template filled in on a real case, as the composer would start the reply."""

    tracking_number: str
    #: The text the citizen receives.
    body: str
    #: The version for the tracking page (the composer starts it as the same text; staff then
    #: remove personal data from it).
    public_body: str
    #: The case is confidential: staff who may not see the citizen get no name filled in.
    confidential: bool
    #: The citizen's name was filled in (and its viewing written to the audit trail).
    name_shown: bool


def preview(session: Session, body: str, tracking_number: str, user: StaffUser) -> Preview:
    """Fill the text, as typed and not saved, in on the case with this tracking number, for
    this user. Refused on ``tracking_number`` when there is no such case, and on ``body``
    when the text is no template."""
    check_text(body)
    number = normalise_tracking_number(tracking_number or "")
    case = session.scalar(select(Case).where(Case.tracking_number == number)) if number else None
    if case is None:
        raise StepRefused(N_("No case has this tracking number."), "tracking_number")
    filled = fill_template(body, case, user)
    uses_name = "name" in {
        field for _literal, field, _spec, _conv in string.Formatter().parse(body) if field
    }
    name_shown = uses_name and bool(case.submitter_name) and access.may_see_submitter(user, case)
    if name_shown and case.confidential:
        # The same rule as the case page: seeing a confidential citizen's identity is recorded.
        audit.record(session, "case.submitter_viewed", case=case, actor=user)
    return Preview(
        tracking_number=case.tracking_number,
        body=filled,
        public_body=filled,
        confidential=case.confidential,
        name_shown=name_shown,
    )
