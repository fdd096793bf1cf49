"""Routing rules, edited by admins."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy.orm import Session

from responder.views.access import admin_required
from shared.models import Category, Channel, RoutingRule, StaffUser
from shared.operations import routing
from shared.schemas.rule import RuleChoices, RuleInputSchema, rule_form_output
from shared.web import REFUSED, current_db, refusal_messages

bp = Blueprint("rules", __name__, url_prefix="/admin/rules")


@bp.get("/")
@admin_required
def index():
    with current_db().session() as session:
        return render_template("rules.html", rules=routing.rules_in_order(session))


@bp.route("/new", methods=["GET", "POST"])
@admin_required
def new():
    return _form(None)


@bp.route("/<int:rule_id>", methods=["GET", "POST"])
@admin_required
def edit(rule_id: int):
    return _form(rule_id)


@bp.post("/<int:rule_id>/move")
@admin_required
def move(rule_id: int):
    direction = request.form.get("direction", "")
    if direction not in routing.Direction.ALL:
        abort(400)
    with current_db().transaction() as session:
        routing.move_rule(session, _rule_or_404(session, rule_id), direction, _actor())
    return redirect(url_for("rules.index"), 303)


@bp.post("/<int:rule_id>/active")
@admin_required
def active(rule_id: int):
    wanted = request.form.get("active", "")
    if wanted not in ("0", "1"):
        abort(400)
    with current_db().transaction() as session:
        routing.set_active(session, _rule_or_404(session, rule_id), wanted == "1", _actor())
    if wanted == "1":
        flash(gettext("The rule is active again."), "done")
    else:
        flash(gettext("The rule is switched off: new cases no longer see it."), "done")
    return redirect(url_for("rules.index"), 303)


def _form(rule_id: int | None):
    """The rule form: shown (GET), previewed or saved (POST)."""
    if request.method == "GET":
        with current_db().session() as session:
            rule = _rule_or_404(session, rule_id) if rule_id is not None else None
            values = rule_form_output.dump(rule) if rule is not None else {}
            return _render(routing.rule_choices(session), rule, values)

    values = request.form.to_dict()
    with current_db().transaction() as session:
        rule = _rule_or_404(session, rule_id) if rule_id is not None else None
        choices = routing.rule_choices(session)
        try:
            fields = routing.RuleFields(**RuleInputSchema(choices).load(values))
            if request.form.get("action") == "preview":
                return _render(choices, rule, values, preview=routing.preview(session, fields))
            if rule is None:
                routing.create_rule(session, fields, _actor())
            else:
                routing.update_rule(session, rule, fields, _actor())
        except REFUSED as refused:
            return _render(choices, rule, values, errors=refusal_messages(refused)), 422
    flash(gettext("The rule is saved. It routes new cases from now on."), "done")
    return redirect(url_for("rules.index"), 303)


def _render(
    choices: RuleChoices,
    rule: RoutingRule | None,
    values: dict,
    errors: dict | None = None,
    preview: routing.Preview | None = None,
) -> str:
    return render_template(
        "rule_form.html",
        rule=rule,
        values=values,
        errors=errors or {},
        preview=preview,
        choices=choices,
        categories=Category.ALL,
        channels=Channel.ALL,
    )


def _rule_or_404(session: Session, rule_id: int) -> RoutingRule:
    rule = routing.get_rule(session, rule_id)
    if rule is None:
        abort(404)
    return rule


def _actor() -> StaffUser:
    return current_user._get_current_object()
