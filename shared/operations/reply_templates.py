"""Reply templates as admins keep them: listed, created, edited, switched off and on again, and
previewed on a real case exactly as the reply composer would fill them in.

A template is never deleted: a reply does not record which template it started from, so
there is no telling whether replies used it; switching it off takes it out of the composer.
Filling a template in is :func:`shared.operations.replies.fill_template`; this module only
checks that a template names no variable that function does not know.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.i18n import N_
from shared.models import Case, ReplyKind, ReplyTemplate, StaffUser
from shared.operations import access, audit
from shared.operations.errors import StepRefused
from shared.operations.replies import fill_template, templates_for
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


def active_for(session: Session, language: str = "zh") -> list[ReplyTemplate]:
    """What the composer offers (the composer's own query)."""
    return templates_for(session, language)


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
