"""Writing replies on the case page, reviewing them, and the list of replies to review."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from shared.models import Case, Reply, ReplyState
from shared.operations import access, replies
from shared.web import REFUSED, current_db, flash_refusal

bp = Blueprint("replies", __name__)


def _user():
    return current_user._get_current_object()


def _reply_of(session: Session, tracking_number: str, reply_id: int) -> Reply:
    """A reply of a case the user may see; 404 for anything else."""
    case = access.case_for(session, _user(), tracking_number)
    reply = session.get(Reply, reply_id) if case is not None else None
    if reply is None or reply.case_id != case.id:
        abort(404)
    return reply


def _back(tracking_number: str, anchor: str = "replies"):
    return redirect(url_for("cases.show", tracking_number=tracking_number, _anchor=anchor), 303)


def _run(tracking_number: str, step, done: str):
    """One reply step in one transaction; its refusal as a message on the case page."""
    try:
        with current_db().transaction() as session:
            step(session)
    except REFUSED as refused:
        flash_refusal(refused)
    else:
        flash(done, "done")
    return _back(tracking_number)


@bp.post("/cases/<tracking_number>/replies")
@login_required
def create(tracking_number: str):
    """A new reply from the composer: saved as a draft, or straight to review."""
    form = request.form
    settings = current_app.config

    def step(session: Session) -> None:
        case = access.case_for(session, _user(), tracking_number)
        if case is None:
            abort(404)
        reply = replies.draft(
            session,
            _user(),
            case,
            form.get("body", ""),
            kind=form.get("kind", "answer"),
            public="public" in form,
            public_body=form.get("public_body") or None,
            whole_cluster="whole_cluster" in form,
        )
        if form.get("action") == "submit":
            replies.submit(session, _user(), reply, settings)

    done = (
        gettext("The reply went to review.")
        if form.get("action") == "submit"
        else gettext("The draft was saved.")
    )
    return _run(tracking_number, step, done)


@bp.post("/cases/<tracking_number>/replies/<int:reply_id>")
@login_required
def update(tracking_number: str, reply_id: int):
    """The author changes a draft (or a returned reply) and saves or submits it."""
    form = request.form
    settings = current_app.config

    def step(session: Session) -> None:
        reply = _reply_of(session, tracking_number, reply_id)
        replies.edit(
            session,
            _user(),
            reply,
            form.get("body", ""),
            public_body=form.get("public_body") or None,
            public="public" in form,
        )
        if form.get("action") == "submit":
            replies.submit(session, _user(), reply, settings)

    return _run(tracking_number, step, gettext("The reply was saved."))


@bp.post("/cases/<tracking_number>/replies/<int:reply_id>/review")
@login_required
def review(tracking_number: str, reply_id: int):
    """A reviewer approves one level, or returns the reply with a comment."""
    decision, comment = request.form.get("decision"), request.form.get("comment", "")
    settings = current_app.config

    def step(session: Session) -> None:
        reply = _reply_of(session, tracking_number, reply_id)
        if decision == "approve":
            replies.approve(session, _user(), reply, settings, comment)
        elif decision == "return":
            replies.return_to_author(session, _user(), reply, comment)
        else:
            abort(400)

    done = gettext("Approved.") if decision == "approve" else gettext("Returned to the author.")
    return _run(tracking_number, step, done)


@bp.get("/replies/review")
@login_required
def to_review():
    """The replies waiting for this user's sign-off, oldest first."""
    user = _user()
    with current_db().session() as session:
        waiting = session.scalars(
            select(Reply)
            .join(Case, Case.id == Reply.case_id)
            .where(
                Reply.state == ReplyState.IN_REVIEW,
                Case.id.in_(access.visible_cases(user).with_only_columns(Case.id)),
            )
            .options(selectinload(Reply.reviews), selectinload(Reply.case))
            .order_by(Reply.created_at)
        ).all()
        mine = [reply for reply in waiting if replies.may_review(user, reply, reply.case)]
        return render_template("replies_to_review.html", replies=mine)
