"""Replies to the citizen: drafted (from the templates of :mod:`shared.operations.reply_templates`),
reviewed on as many levels as the office asks (0 to 3), sent through the outbox only once
finally approved, shown on the tracking page in the version staff cleared of personal data.

The formal notices of the Regulations on Letters and Visits are reply kinds: acceptance
(受理告知) starts the answer clock, refusal (不予受理告知) ends the case, extension (延期告知)
tells of an approved extension, the answer (答复意见) answers and asks for a rating.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db import utcnow
from shared.i18n import N_
from shared.mail import builders
from shared.mail.outbox import enqueue
from shared.models import (
    Case,
    CaseStatus,
    Message,
    MessageKind,
    OutboxEmail,
    Reply,
    ReplyKind,
    ReplyState,
    Review,
    Role,
    StaffUser,
)
from shared.operations import access, audit, deadlines, lifecycle
from shared.operations.access import Action
from shared.operations.errors import NotAllowed, StepRefused
from shared.schemas.reply import BODY_MAX


def draft(
    session: Session,
    user: StaffUser,
    case: Case,
    body: str,
    *,
    kind: str = ReplyKind.ANSWER,
    public: bool = True,
    public_body: str | None = None,
    whole_cluster: bool = False,
) -> Reply:
    """A new draft by the user. ``public_body`` is what the tracking page will show (staff
    remove personal data from it); it starts as the text itself."""
    if not access.may(user, Action.REPLY, case):
        raise NotAllowed(Action.REPLY)
    if kind not in ReplyKind.ALL:
        raise StepRefused(N_("Choose one of the listed kinds of reply."), "kind")
    if case.status in CaseStatus.FINISHED:
        raise StepRefused(N_("A closed case takes no more replies."))
    reply = Reply(
        case_id=case.id,
        author_id=user.id,
        kind=kind,
        body=_text(body, "body"),
        public_body=_text(public_body if public_body is not None else body, "public_body"),
        public=public,
        whole_cluster=whole_cluster and case.cluster_id is not None,
        state=ReplyState.DRAFT,
        levels_required=case.office.review_levels if case.office else 1,
    )
    session.add(reply)
    session.flush()
    audit.record(session, "reply.drafted", case=case, actor=user, reply_id=reply.id, kind=kind)
    return reply


def edit(
    session: Session,
    user: StaffUser,
    reply: Reply,
    body: str,
    *,
    public_body: str | None = None,
    public: bool = True,
) -> Reply:
    """The author changes a draft, or a reply a reviewer returned; reviews start again."""
    if reply.author_id != user.id:
        raise NotAllowed("edit")
    if reply.state not in (ReplyState.DRAFT, ReplyState.RETURNED):
        raise StepRefused(N_("Only a draft or a returned reply can be changed."))
    reply.body = _text(body, "body")
    reply.public_body = _text(public_body if public_body is not None else body, "public_body")
    reply.public = public
    reply.state = ReplyState.DRAFT
    case = session.get(Case, reply.case_id)
    audit.record(session, "reply.edited", case=case, actor=user, reply_id=reply.id)
    return reply


def submit(
    session: Session,
    user: StaffUser,
    reply: Reply,
    settings: Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> Reply:
    """The author sends the draft to review; with no review levels it goes out at once."""
    if reply.author_id != user.id:
        raise NotAllowed("submit")
    if reply.state not in (ReplyState.DRAFT, ReplyState.RETURNED):
        raise StepRefused(N_("This reply was already submitted."))
    reply.levels_approved = 0
    case = session.get(Case, reply.case_id)
    if reply.levels_required == 0:
        reply.state = ReplyState.APPROVED
        audit.record(session, "reply.submitted", case=case, actor=user, reply_id=reply.id)
        return send(session, reply, settings, now=now)
    reply.state = ReplyState.IN_REVIEW
    audit.record(session, "reply.submitted", case=case, actor=user, reply_id=reply.id)
    return reply


def may_review(user: StaffUser, reply: Reply, case: Case) -> bool:
    """Admins, and reviewers of the case's office; never the author; one level each."""
    if reply.state != ReplyState.IN_REVIEW or reply.author_id == user.id:
        return False
    if any(
        review.reviewer_id == user.id and review.decision == "approved"
        for review in _this_round(reply)
    ):
        return False
    if user.role == Role.ADMIN:
        return True
    return user.role == Role.REVIEWER and case.office_id in {o.id for o in user.offices}


def approve(
    session: Session,
    user: StaffUser,
    reply: Reply,
    settings: Mapping[str, Any],
    comment: str = "",
    *,
    now: datetime | None = None,
) -> Reply:
    """One level of sign-off; the last level sends the reply."""
    case = session.get(Case, reply.case_id)
    _require_review(user, reply, case)
    reply.levels_approved += 1
    session.add(
        Review(
            reply_id=reply.id,
            reviewer_id=user.id,
            level=reply.levels_approved,
            decision="approved",
            comment=_text(comment, "comment", required=False),
        )
    )
    audit.record(
        session,
        "reply.approved",
        case=case,
        actor=user,
        reply_id=reply.id,
        level=reply.levels_approved,
    )
    if reply.levels_approved >= reply.levels_required:
        reply.state = ReplyState.APPROVED
        return send(session, reply, settings, now=now)
    session.flush()
    return reply


def return_to_author(session: Session, user: StaffUser, reply: Reply, comment: str) -> Reply:
    """A reviewer sends the reply back with what to change."""
    case = session.get(Case, reply.case_id)
    _require_review(user, reply, case)
    comment = _text(comment, "comment")
    session.add(
        Review(
            reply_id=reply.id,
            reviewer_id=user.id,
            level=reply.levels_approved + 1,
            decision="returned",
            comment=comment,
        )
    )
    reply.state = ReplyState.RETURNED
    session.flush()
    audit.record(session, "reply.returned", case=case, actor=user, reply_id=reply.id)
    return reply


def send(
    session: Session, reply: Reply, settings: Mapping[str, Any], *, now: datetime | None = None
) -> Reply:
    """Put the approved reply on the thread and in the outbox; apply what its kind means to
    the case. With ``whole_cluster``, every open case of the cluster gets the same answer."""
    if reply.state != ReplyState.APPROVED:
        raise StepRefused(N_("Only an approved reply is sent."))
    now = now or utcnow()
    case = session.get(Case, reply.case_id)
    message = _deliver(session, reply, case, settings, now)
    reply.state = ReplyState.SENT
    reply.sent_at = now
    reply.message_pk = message.id
    if reply.whole_cluster and case.cluster_id is not None:
        for twin in cluster_twins(session, case):
            _deliver(session, reply, twin, settings, now)
    session.flush()
    return reply


def cluster_twins(session: Session, case: Case) -> list[Case]:
    """The other open cases of the case's cluster that its office handles: one answer to a
    campaign goes to those, never to a case another office must answer."""
    if case.cluster_id is None or case.office_id is None:
        return []
    return list(
        session.scalars(
            select(Case).where(
                Case.cluster_id == case.cluster_id,
                Case.office_id == case.office_id,
                Case.id != case.id,
                Case.status.in_(CaseStatus.OPEN),
            )
        )
    )


def _deliver(
    session: Session, reply: Reply, case: Case, settings: Mapping[str, Any], now: datetime
) -> Message:
    in_reply_to, references = _thread_of(session, case)
    message = Message(
        case=case,
        kind=MessageKind.REPLY,
        body=reply.body,
        public_body=reply.public_body,
        public=reply.public,
        author_id=reply.author_id,
        in_reply_to=in_reply_to,
        created_at=now,
    )
    session.add(message)
    if case.submitter_email:
        mail = builders.reply(case, reply, settings, in_reply_to=in_reply_to, references=references)
        row = enqueue(session, mail, settings, case=case)
        message.message_id = row.message_id
    _apply_kind(session, reply.kind, case, now)
    session.flush()
    audit.record(
        session,
        "reply.sent",
        case=case,
        reply_id=reply.id,
        kind=reply.kind,
        mailed=bool(case.submitter_email),
    )
    return message


def _thread_of(session: Session, case: Case) -> tuple[str | None, list[str]]:
    """(In-Reply-To, References) of a reply: the citizen's latest mail if they wrote one,
    else our latest mail to them (the acknowledgement), so mail programs thread it."""
    citizen = session.execute(
        select(Message.created_at, Message.message_id).where(
            Message.case_id == case.id,
            Message.kind == MessageKind.INBOUND,
            Message.message_id.is_not(None),
        )
    ).all()
    ours = []
    if case.submitter_email:
        ours = session.execute(
            select(OutboxEmail.created_at, OutboxEmail.message_id).where(
                OutboxEmail.case_id == case.id,
                OutboxEmail.to_addr.contains(case.submitter_email, autoescape=True),
            )
        ).all()
    conversation = [message_id for _at, message_id in sorted(citizen + ours)]
    latest_citizen = max(citizen, default=None)
    in_reply_to = latest_citizen[1] if latest_citizen else (conversation or [None])[-1]
    return in_reply_to, conversation[-10:]


def _apply_kind(session: Session, kind: str, case: Case, now: datetime) -> None:
    if kind == ReplyKind.ACCEPTANCE:
        case.accepted_at = now
        case.reply_due = deadlines.reply_due_after_acceptance(session, case, now)
    elif kind == ReplyKind.REFUSAL:
        lifecycle.take(session, case, lifecycle.Step.REFUSE, now=now)
    elif kind == ReplyKind.ANSWER:
        lifecycle.take(session, case, lifecycle.Step.ANSWER, now=now)
        case.first_replied_at = case.first_replied_at or now


def _require_review(user: StaffUser, reply: Reply, case: Case) -> None:
    if reply.author_id == user.id:
        raise StepRefused(N_("Nobody approves their own reply."))
    if reply.state != ReplyState.IN_REVIEW:
        raise StepRefused(N_("This reply is not waiting for review."))
    if not may_review(user, reply, case):
        raise NotAllowed("review")


def _this_round(reply: Reply) -> list[Review]:
    """The reviews since the reply was last returned."""
    reviews = list(reply.reviews)
    for index in range(len(reviews) - 1, -1, -1):
        if reviews[index].decision == "returned":
            return reviews[index + 1 :]
    return reviews


def _text(value: str | None, field: str, *, required: bool = True) -> str:
    text = (value or "").strip()
    if required and not text:
        raise StepRefused(N_("Write the text first."), field)
    if len(text) > BODY_MAX:
        raise StepRefused(N_("Keep the text to 20000 characters or fewer."), field)
    return text
