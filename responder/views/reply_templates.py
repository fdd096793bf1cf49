"""Reply templates, kept by admins: list, create, edit, switch off and on, preview on a case."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy.orm import Session

from responder.views.access import admin_required
from shared.i18n import LANGUAGES
from shared.models import ReplyKind, ReplyTemplate, StaffUser
from shared.operations import reply_templates
from shared.schemas.reply_template import TemplateInputSchema, preview_input, template_form_output
from shared.web import REFUSED, current_db, refusal_messages

bp = Blueprint("reply_templates", __name__, url_prefix="/admin/templates")


@bp.get("/")
@admin_required
def index():
    with current_db().session() as session:
        return render_template(
            "admin/templates.html", templates=reply_templates.list_templates(session)
        )


@bp.route("/new", methods=["GET", "POST"])
@admin_required
def new():
    return _form(None)


@bp.route("/<int:template_id>", methods=["GET", "POST"])
@admin_required
def edit(template_id: int):
    return _form(template_id)


@bp.post("/<int:template_id>/active")
@admin_required
def active(template_id: int):
    wanted = request.form.get("active", "")
    if wanted not in ("0", "1"):
        abort(400)
    with current_db().transaction() as session:
        template = _template_or_404(session, template_id)
        reply_templates.set_active(session, template, wanted == "1", _actor())
    if wanted == "1":
        flash(gettext("The template is offered in the reply form again."), "done")
    else:
        flash(gettext("The template is switched off: the reply form no longer offers it."), "done")
    return redirect(url_for("reply_templates.index"), 303)


def _form(template_id: int | None):
    """The template form: shown (GET), previewed on a case or saved (POST)."""
    if request.method == "GET":
        with current_db().session() as session:
            template = _template_or_404(session, template_id) if template_id is not None else None
            values = template_form_output.dump(template) if template is not None else {}
            values["tracking_number"] = request.args.get("tracking_number", "")
            return _render(template, values)

    values = request.form.to_dict()
    previewing = request.form.get("action") == "preview"
    with current_db().transaction() as session:
        template = _template_or_404(session, template_id) if template_id is not None else None
        try:
            schema = TemplateInputSchema(reply_templates.VARIABLES)
            fields = reply_templates.TemplateFields(**schema.load(values))
            if previewing:
                case = preview_input.load(values)["tracking_number"]
                shown = reply_templates.preview(session, fields.body, case, _actor())
                return _render(template, values, preview=shown)
            if template is None:
                reply_templates.create_template(session, fields, _actor())
            else:
                reply_templates.update_template(session, template, fields, _actor())
        except REFUSED as refused:
            # A preview fills in nothing until the text is right: say both at once.
            errors = refusal_messages(refused)
            if previewing and "tracking_number" not in errors:
                try:
                    preview_input.load(values)
                except REFUSED as missing:
                    errors |= refusal_messages(missing)
            return _render(template, values, errors=errors), 422
    flash(gettext("The template is saved. The reply form offers it from now on."), "done")
    return redirect(url_for("reply_templates.index"), 303)


def _render(
    template: ReplyTemplate | None,
    values: dict,
    errors: dict | None = None,
    preview: reply_templates.Preview | None = None,
) -> str:
    return render_template(
        "admin/template_form.html",
        template=template,
        values=values,
        errors=errors or {},
        preview=preview,
        kinds=ReplyKind.ALL,
        languages=LANGUAGES,
        variables=reply_templates.VARIABLES,
    )


def _template_or_404(session: Session, template_id: int) -> ReplyTemplate:
    template = reply_templates.get_template(session, template_id)
    if template is None:
        abort(404)
    return template


def _actor() -> StaffUser:
    return current_user._get_current_object()
