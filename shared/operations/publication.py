"""Answered comments on the public page (留言选登): who may publish a case, the automatic
redaction of the comment, the published list, and how many comments each notice received
and answered.

A case may be published when its citizen agreed (``Case.publish_consent``) and it has an
answer the tracking page shows. What the public reads:

- the comment: the public version of the case's first message (``Message.public_body``),
  prefilled by :func:`redact` and edited by staff before publishing;
- the answer: the latest reply shown on the tracking page, in its public version, cleared
  again by :func:`redact` and edited by staff (``Case.published_answer``): a reply greets the
  citizen by name, which their own tracking page may show but a public page must not.

Publishing and unpublishing flush and never commit; both are written to the audit trail.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, aliased

from shared.i18n import N_
from shared.models import (
    Case,
    CaseStatus,
    Message,
    MessageKind,
    Notice,
    NoticeItem,
    NoticeStatus,
    Office,
    Role,
    StaffUser,
)
from shared.operations import audit
from shared.operations.errors import NotAllowed, StepRefused
from shared.schemas.publication import COMMENT_MAX

#: Published comments per page.
PAGE_SIZE = 20
#: What personal data is replaced with.
MASK = "＊＊"


# -- who may publish ---------------------------------------------------------------------------


def may_publish(user: StaffUser, case: Case) -> bool:
    """Administrators, and the reviewers of the case's office: those who sign answers off for
    the office decide what of it the public reads. Officers and triage do not."""
    if user.role == Role.ADMIN:
        return True
    if user.role == Role.REVIEWER and case.office_id is not None:
        return case.office_id in {office.id for office in user.offices}
    return False


# -- the automatic redaction -------------------------------------------------------------------

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+\s*[@＠]\s*[A-Za-z0-9-]+(?:\s*[.。．]\s*[A-Za-z0-9-]+)+")
#: Resident ID card numbers (18 characters, the last may be X; the old 15-digit ones too).
_ID_CARD = re.compile(r"(?<!\d)(?:\d{17}[\dXxＸｘ]|\d{15})(?!\d)")
#: Phone numbers, however written: a run of digits with separators, seven digits or more
#: (mobile 1xx xxxx xxxx, +86, landline 0931-1234567, a local 7-8 digit number).
_DIGIT_RUN = re.compile(r"\+?\d(?:\d|[-\s.－—()（）](?=\d))+")
_PHONE_DIGITS = 7
_NUMBER = r"\d+(?:[-－]\d+)*|[一二三四五六七八九十百千零〇两]+"
#: Characters that end a sentence's words before a place name ("住在东大街…").
_NOT_PLACE = "在住于是的到和与及从向我你他她们给对把被"
_PLACE = (
    rf"(?:(?![{_NOT_PLACE}])[{_HAN}]){{1,6}}?"
    r"(?:路|街|巷|弄|胡同|大道|小区|花园|家园|公寓|大院|社区|村)"
)
#: A house number: street or estate (if written), then number and unit, repeated
#: ("东大街12号3单元501室", "幸福小区5栋"), but not a date ("3月1号") or a line ("2号线").
_HOUSE = re.compile(
    rf"(?:{_PLACE})?(?:(?<!月)(?:{_NUMBER})(?:号楼|号院|号(?![线文令])|栋|幢|单元|室|户)[-－\s]?)+"
    rf"(?:{_NUMBER})?"
)
#: A village address: "李家村三组", "东关村5社".
_VILLAGE = re.compile(rf"(?:(?![{_NOT_PLACE}])[{_HAN}]){{1,6}}?村(?:{_NUMBER})(?:组|社|队)")
#: A name the writer gives: "我叫张三", "姓名：张三", "名叫李四".
_NAME_GIVEN = re.compile(rf"(我叫|名叫|姓名\s*[:：]?\s*|联系人\s*[:：]?\s*)[{_HAN}·]{{2,4}}")


def redact(text: str, *, known: Iterable[str | None] = ()) -> str:
    """``text`` with personal data replaced by ＊＊: the ``known`` strings (the submitter's
    name, phone, email, address), email addresses, ID card and phone numbers, house
    numbers and the names people give. A first pass for staff, who read and edit it."""
    for value in sorted({v.strip() for v in known if v and len(v.strip()) >= 2}, key=len)[::-1]:
        text = text.replace(value, MASK)
    text = _EMAIL.sub(MASK, text)
    text = _ID_CARD.sub(MASK, text)
    text = _DIGIT_RUN.sub(_mask_phone, text)
    text = _VILLAGE.sub(MASK, text)
    text = _HOUSE.sub(MASK, text)
    text = _NAME_GIVEN.sub(lambda match: match[1] + MASK, text)
    return re.sub(f"(?:{re.escape(MASK)})+", MASK, text)


def _mask_phone(match: re.Match) -> str:
    digits = sum(character.isdigit() for character in match[0])
    return MASK if digits >= _PHONE_DIGITS else match[0]


def draft_comment(session: Session, case: Case) -> str:
    """What the publish form starts with: the version published before, else the comment
    with the automatic redaction."""
    first = first_message(session, case)
    if first is None:
        return ""
    if first.public_body is not None:
        return first.public_body
    return redact(first.body, known=_personal_data(case))


def draft_answer(session: Session, case: Case) -> str:
    """What the publish form's answer starts with: the version published before, else the
    answer the tracking page shows, with the automatic redaction."""
    if case.published_answer is not None:
        return case.published_answer
    answer = public_answer(session, case)
    if answer is None:
        return ""
    return redact(answer.public_body or answer.body, known=_personal_data(case))


def _personal_data(case: Case) -> tuple[str | None, ...]:
    return (
        case.submitter_name,
        case.submitter_phone,
        case.submitter_email,
        case.submitter_address,
    )


# -- publishing --------------------------------------------------------------------------------


def first_message(session: Session, case: Case) -> Message | None:
    """The citizen's comment: the first inbound message of the thread."""
    return session.scalar(
        select(Message)
        .where(Message.case_id == case.id, Message.kind == MessageKind.INBOUND)
        .order_by(Message.created_at, Message.id)
        .limit(1)
    )


def public_answer(session: Session, case: Case) -> Message | None:
    """The answer the public page shows: the latest reply on the tracking page sent since the
    case was first answered; None before an answer."""
    if case.first_replied_at is None:
        return None
    return session.scalar(
        select(Message)
        .where(
            Message.case_id == case.id,
            Message.kind == MessageKind.REPLY,
            Message.public.is_(True),
            Message.created_at >= case.first_replied_at,
        )
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(1)
    )


def why_not_publishable(session: Session, case: Case) -> str | None:
    """Why the case cannot be published (a msgid), or None when it can."""
    if not case.publish_consent:
        return N_("The citizen did not agree to publication, so the case cannot be published.")
    if case.status == CaseStatus.SPAM:
        return N_("A case marked as spam is not published.")
    if public_answer(session, case) is None:
        return N_("Only a case with an answer shown on the tracking page can be published.")
    return None


def publish(
    session: Session, user: StaffUser, case: Case, comment: str, answer: str | None = None
) -> Case:
    """Publish the case with ``comment`` as the public version of the citizen's comment and
    ``answer`` as that of the answer (None: the answer as :func:`draft_answer` starts it), or
    change the published versions."""
    if not may_publish(user, case):
        raise NotAllowed("publish")
    problem = why_not_publishable(session, case)
    if problem is not None:
        raise StepRefused(problem)
    comment = (comment or "").strip()
    if not comment:
        raise StepRefused(N_("Write the public version of the comment."), "comment")
    if len(comment) > COMMENT_MAX:
        raise StepRefused(N_("Keep the public version to 5000 characters or fewer."), "comment")
    answer = (draft_answer(session, case) if answer is None else answer).strip()
    if not answer:
        raise StepRefused(N_("Write the public version of the answer."), "answer")
    if len(answer) > COMMENT_MAX:
        raise StepRefused(N_("Keep the public version to 5000 characters or fewer."), "answer")
    first = first_message(session, case)
    if first is None:  # every channel stores the comment as the first message
        raise StepRefused(N_("The case has no comment to publish."))
    changed = case.published
    first.public_body = comment
    case.published_answer = answer
    case.published = True
    session.flush()
    audit.record(
        session,
        "case.published",
        case=case,
        actor=user,
        answer_message_id=public_answer(session, case).id,
        republished=changed,
    )
    return case


def unpublish(session: Session, user: StaffUser, case: Case) -> Case:
    """Take the case off the public page (its public version is kept for a later publish)."""
    if not may_publish(user, case):
        raise NotAllowed("publish")
    if not case.published:
        raise StepRefused(N_("The case is not published."))
    case.published = False
    session.flush()
    audit.record(session, "case.unpublished", case=case, actor=user)
    return case


# -- the public page ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PublishedComment:
    received_at: datetime
    notice_title: str | None
    item_title: str | None
    comment: str
    office_name: str | None
    answer: str
    answered_at: datetime


@dataclass(frozen=True)
class PublishedPage:
    items: list[PublishedComment]
    page: int
    pages: int
    total: int


def published(
    session: Session, *, notice_id: int | None = None, query: str = "", page: int = 1
) -> PublishedPage:
    """One page of the published comments, newest answer first, of one notice and holding
    every word of ``query`` (in the public comment or the public answer) if given.

    The search reads only the published texts, never the original ones: a name that staff
    removed must not find the comment. Few cases are published, so a LIKE is enough."""
    comment, answer = aliased(Message), aliased(Message)
    statement = (
        select(
            Case.received_at,
            Notice.title,
            NoticeItem.title,
            comment.public_body,
            Office.name,
            Case.published_answer,
            answer.created_at,
        )
        .select_from(Case)
        .join(comment, comment.id == _first_message_id())
        .join(answer, answer.id == _public_answer_id())
        .outerjoin(Notice, Notice.id == Case.notice_id)
        .outerjoin(NoticeItem, NoticeItem.id == Case.notice_item_id)
        .outerjoin(Office, Office.id == Case.office_id)
        .where(
            *_published_conditions(),
            comment.public_body.is_not(None),
            Case.published_answer.is_not(None),
        )
    )
    if notice_id is not None:
        statement = statement.where(Case.notice_id == notice_id)
    for word in query.split()[:10]:
        statement = statement.where(
            or_(
                comment.public_body.icontains(word, autoescape=True),
                Case.published_answer.icontains(word, autoescape=True),
            )
        )
    total = session.scalar(statement.with_only_columns(func.count()).order_by(None))
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(page, 1), pages)
    rows = session.execute(
        statement.order_by(answer.created_at.desc(), Case.id.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    return PublishedPage([PublishedComment(*row) for row in rows], page, pages, total)


def _published_conditions() -> tuple:
    """Published, consented, not spam: consent is checked again on every read."""
    return (
        Case.published,  # as the partial index ix_case_published says it
        Case.publish_consent,
        Case.status != CaseStatus.SPAM,
        Case.first_replied_at.is_not(None),
    )


def _first_message_id():
    first = aliased(Message)
    return (
        select(first.id)
        .where(first.case_id == Case.id, first.kind == MessageKind.INBOUND)
        .order_by(first.created_at, first.id)
        .limit(1)
        .correlate(Case)
        .scalar_subquery()
    )


def _public_answer_id():
    reply = aliased(Message)
    return (
        select(reply.id)
        .where(
            reply.case_id == Case.id,
            reply.kind == MessageKind.REPLY,
            reply.public.is_(True),
            reply.created_at >= Case.first_replied_at,
        )
        .order_by(reply.created_at.desc(), reply.id.desc())
        .limit(1)
        .correlate(Case)
        .scalar_subquery()
    )


def public_notices(session: Session) -> list[tuple[int, str]]:
    """(id, title) of the notices the public page offers: the published ones and any other
    that has published comments, newest first."""
    has_published = (
        select(Case.id).where(Case.notice_id == Notice.id, *_published_conditions()).exists()
    )
    statement: Select = (
        select(Notice.id, Notice.title)
        .where(or_(Notice.status == NoticeStatus.PUBLISHED, has_published))
        .order_by(Notice.id.desc())
    )
    return [(row.id, row.title) for row in session.execute(statement)]


# -- counts ------------------------------------------------------------------------------------


def notice_counts(session: Session) -> dict[int, tuple[int, int]]:
    """``{notice_id: (received, answered)}``: the comments each notice received and how many
    of them have been answered (an answer sent at least once), spam left out."""
    rows = session.execute(
        select(Case.notice_id, func.count(), func.count(Case.first_replied_at))
        .where(Case.notice_id.is_not(None), Case.status != CaseStatus.SPAM)
        .group_by(Case.notice_id)
    )
    return {notice_id: (received, answered) for notice_id, received, answered in rows}
