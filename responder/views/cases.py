"""The case page and what staff do on it; registering a phone call, letter or visit."""

from __future__ import annotations

import io
from collections.abc import Callable

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from shared import uploads
from shared.db import run_with_retry, utcnow
from shared.models import (
    Attachment,
    Case,
    Category,
    Channel,
    Message,
    NoticeItem,
    Reply,
    ReplyState,
    Review,
    StoredBlob,
)
from shared.operations import (
    access,
    cases,
    deadlines,
    intake,
    publication,
    replies,
    reply_templates,
    routing,
)
from shared.operations import offices as office_register
from shared.operations.access import Action
from shared.schemas.case_step import CaseStep, case_step_input
from shared.schemas.publication import publish_input
from shared.schemas.submission import staff_case_input
from shared.web import (
    REFUSED,
    current_db,
    flash_refusal,
    refusal_messages,
    translated_errors,
)

bp = Blueprint("cases", __name__, url_prefix="/cases")


def _user():
    return current_user._get_current_object()


def _visible_case(session: Session, tracking_number: str) -> Case:
    case = access.case_for(session, _user(), tracking_number)
    if case is None:
        abort(404)
    return case


@bp.get("/<tracking_number>")
@login_required
def show(tracking_number: str):
    # A transaction, not a read: seeing a confidential submitter is written to the audit trail.
    with current_db().transaction() as session:
        case = _visible_case(session, tracking_number)
        user = _user()
        thread = session.scalars(
            select(Message)
            .where(Message.case_id == case.id)
            .options(selectinload(Message.attachments), selectinload(Message.author))
            .order_by(Message.created_at, Message.id)
        ).all()
        cluster_size = 0
        if case.cluster_id is not None:
            cluster_size = session.scalar(
                access.visible_cases(user)
                .where(Case.cluster_id == case.cluster_id)
                .with_only_columns(func.count())
            )
        repeats = session.scalars(
            access.visible_cases(user)
            .where(Case.duplicate_of_id == case.id)
            .order_by(Case.received_at)
        ).all()
        offices = office_register.active_offices(session)
        pending = session.scalars(
            select(Reply)
            .where(Reply.case_id == case.id, Reply.state != ReplyState.SENT)
            .options(selectinload(Reply.reviews).selectinload(Review.reviewer))
            .order_by(Reply.created_at)
        ).all()
        return render_template(
            "case.html",
            pending=pending,
            may_review={reply.id: replies.may_review(user, reply, case) for reply in pending},
            composer=_composer(session, case, pending),
            clock=deadlines.clock(case, utcnow()),
            routing_reason=routing.explain(session, case),
            twins=len(replies.cluster_twins(session, case)),
            publishing=_publishing(session, case),
            case=case,
            thread=thread,
            submitter=access.submitter_for(session, user, case),
            offices=offices,
            office_names={office.code: office.name for office in offices},
            cluster_size=cluster_size,
            repeats=repeats,
            may={action: access.may(user, action, case) for action in _ACTIONS}
            | {
                "extend": deadlines.may_request_extension(user, case),
                "approve_extension": deadlines.may_approve_extension(user, case, session),
            },
        )


def _composer(session: Session, case: Case, pending: list[Reply]) -> dict:
    """What the reply form starts with: a reply being edited (?edit=ID), a template filled in
    for this case (?template=ID), or nothing."""
    user = _user()
    templates = reply_templates.templates_for(session, case.language)
    edit_id = request.args.get("edit", type=int)
    editing = next((r for r in pending if r.id == edit_id and r.author_id == user.id), None)
    if editing is not None:
        return {
            "templates": templates,
            "editing": editing,
            "kind": editing.kind,
            "body": editing.body,
            "public_body": editing.public_body,
        }
    chosen = next((t for t in templates if t.id == request.args.get("template", type=int)), None)
    body = reply_templates.fill_template(chosen.body, case, user) if chosen else ""
    return {
        "templates": templates,
        "editing": None,
        "kind": chosen.kind if chosen else "answer",
        "body": body,
        "public_body": body,
        "template_id": chosen.id if chosen else None,
    }


def _publishing(session: Session, case: Case) -> dict | None:
    """The publish control: for those who may publish, a case whose citizen agreed (or one
    still published); what it starts with, or why the case cannot be published yet."""
    if not (case.publish_consent or case.published) or not publication.may_publish(_user(), case):
        return None
    return {
        "problem": publication.why_not_publishable(session, case),
        "comment": publication.draft_comment(session, case),
        "answer": publication.draft_answer(session, case),
    }


_ACTIONS = (
    Action.ASSIGN,
    Action.RETURN,
    Action.NOTE,
    Action.SPAM,
    Action.DUPLICATE,
    Action.CLOSE,
    Action.REPLY,
)


def _act(tracking_number: str, step: Callable[[Session, Case, CaseStep], object], done: str):
    """Do one step to a visible case in one transaction, then back to the case page (with
    why, if it was refused), or to the queue when the step took the case out of the user's
    sight ("not ours")."""
    try:
        values = case_step_input.load(request.form.to_dict())
        with current_db().transaction() as session:
            step(session, _visible_case(session, tracking_number), values)
            still_visible = access.case_for(session, _user(), tracking_number) is not None
    except REFUSED as refused:
        flash_refusal(refused)
    else:
        flash(done, "done")
        if not still_visible:
            return redirect(url_for("queue.index"), 303)
    return redirect(url_for("cases.show", tracking_number=tracking_number), 303)


@bp.post("/<tracking_number>/assign")
@login_required
def assign(tracking_number: str):
    return _act(
        tracking_number,
        lambda session, case, step: cases.assign(session, _user(), case, step.office, step.reason),
        gettext("The case was sent to the office."),
    )


@bp.post("/<tracking_number>/return")
@login_required
def return_to_triage(tracking_number: str):
    return _act(
        tracking_number,
        lambda session, case, step: cases.return_to_triage(session, _user(), case, step.reason),
        gettext("The case went back to triage."),
    )


@bp.post("/<tracking_number>/notes")
@login_required
def add_note(tracking_number: str):
    return _act(
        tracking_number,
        lambda session, case, step: cases.add_note(session, _user(), case, step.body),
        gettext("The note was added."),
    )


@bp.post("/<tracking_number>/spam")
@login_required
def spam(tracking_number: str):
    if request.form.get("undo"):
        return _act(
            tracking_number,
            lambda session, case, step: cases.unmark_spam(session, _user(), case),
            gettext("The case is no longer marked as spam."),
        )
    return _act(
        tracking_number,
        lambda session, case, step: cases.mark_spam(session, _user(), case, step.reason),
        gettext("The case was marked as spam."),
    )


@bp.post("/<tracking_number>/duplicate")
@login_required
def duplicate(tracking_number: str):
    return _act(
        tracking_number,
        lambda session, case, step: cases.mark_duplicate(
            session, _user(), case, step.duplicate_of, step.reason
        ),
        gettext("The case was marked as a repeat."),
    )


@bp.post("/<tracking_number>/close")
@login_required
def close(tracking_number: str):
    return _act(
        tracking_number,
        lambda session, case, step: cases.close(session, _user(), case, step.reason),
        gettext("The case was closed."),
    )


@bp.post("/<tracking_number>/extension")
@login_required
def request_extension(tracking_number: str):
    return _act(
        tracking_number,
        lambda session, case, step: deadlines.request_extension(
            session, _user(), case, step.days, step.reason
        ),
        gettext("The extension waits for approval."),
    )


@bp.post("/<tracking_number>/extension/decision")
@login_required
def decide_extension(tracking_number: str):
    if request.form.get("decision") == "approve":
        return _act(
            tracking_number,
            lambda session, case, step: deadlines.approve_extension(session, _user(), case),
            gettext("The extension was granted; the deadline moved."),
        )
    return _act(
        tracking_number,
        lambda session, case, step: deadlines.reject_extension(session, _user(), case, step.reason),
        gettext("The extension was refused."),
    )


@bp.post("/<tracking_number>/publish")
@login_required
def publish(tracking_number: str):
    """Publish the case on the page of answered comments, with the edited public version of
    the comment (or change the version already published)."""

    def step(session: Session, case: Case, _step: CaseStep) -> None:
        given = publish_input.load(request.form.to_dict())
        publication.publish(session, _user(), case, given["comment"], given["answer"])

    return _act(tracking_number, step, gettext("Published on the page of answered comments."))


@bp.post("/<tracking_number>/unpublish")
@login_required
def unpublish(tracking_number: str):
    return _act(
        tracking_number,
        lambda session, case, step: publication.unpublish(session, _user(), case),
        gettext("Taken off the page of answered comments."),
    )


@bp.get("/<tracking_number>/attachments/<int:attachment_id>")
@login_required
def attachment(tracking_number: str, attachment_id: int):
    """A file of the thread, always as a download: never shown inline, never sniffed."""
    with current_db().session() as session:
        case = _visible_case(session, tracking_number)
        row = session.execute(
            select(Attachment, StoredBlob.data)
            .join(Message, Attachment.message_id == Message.id)
            .join(StoredBlob, StoredBlob.sha256 == Attachment.blob_sha256)
            .where(Attachment.id == attachment_id, Message.case_id == case.id)
        ).first()
        if row is None:
            abort(404)
        found, data = row
        response = send_file(
            io.BytesIO(data),
            mimetype=found.content_type,
            as_attachment=True,
            download_name=found.filename,
        )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


REGISTER_FIELDS = (
    "channel",
    "received_at",
    "body",
    "subject",
    "category",
    "notice_item",
    "name",
    "phone",
    "email",
    "address",
)
REGISTER_CHECKBOXES = ("anonymous", "confidential", "publish_consent")


@bp.route("/new", methods=["GET", "POST"])
@login_required
def register():
    """A phone call, letter or visit, entered by staff, through the one intake path."""
    if not access.may(_user(), Action.REGISTER):
        abort(404)
    if request.method == "GET":
        return _register_form({"channel": request.args.get("channel", Channel.PHONE)}, {})
    values = {name: request.form.get(name, "") for name in REGISTER_FIELDS}
    values |= {name: name in request.form for name in REGISTER_CHECKBOXES}
    files = uploads.form_files()
    errors = translated_errors({"attachments": files.errors}) if files.errors else {}
    try:
        submission = intake.Submission(**staff_case_input.load(values))
    except REFUSED as refused:
        errors = refusal_messages(refused) | errors
    if errors:
        return _register_form(values, errors, kept=files.kept()), 422
    submission.attachments = files.uploads
    submission.registered_by_id = _user().id
    settings = current_app.config
    try:
        receipt = run_with_retry(
            current_db(), lambda session: intake.receive(session, submission, settings=settings)
        )
    except REFUSED as refused:
        return _register_form(values, refusal_messages(refused), kept=files.kept()), 422
    return render_template("registered.html", receipt=receipt)


def _register_form(values: dict, errors: dict, kept: list | None = None) -> str:
    with current_db().session() as session:
        items = session.scalars(
            select(NoticeItem).where(NoticeItem.retired.is_(False)).order_by(NoticeItem.code)
        ).all()
        return render_template(
            "register.html",
            values=values,
            errors=errors,
            kept=kept or [],
            items=items,
            channels=Channel.STAFF,
            categories=Category.ALL,
        )
