"""Admins keep the reply templates: list, create, edit, switch off and on, preview on a case."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select

from shared.models import AuditEvent, ReplyTemplate
from shared.operations import reply_templates
from shared.operations.reply_templates import VARIABLES
from tests.conftest import case_by_number, csrf_token
from tests.factories import log_in, make_case, make_staff

NEW = {"name": "补充材料告知", "kind": "other", "language": "zh", "body": "{name}：请补充材料。"}


@pytest.fixture
def admin(db, demo, responder_client):
    """A client logged in as an admin, reading the pages in English."""
    make_staff(db, "boss", "admin")
    log_in(responder_client, "boss")
    responder_client.get("/admin/templates/?lang=en")
    return responder_client


def _post(client, path: str, **data):
    token = csrf_token(client, "/admin/templates/new")
    return client.post(path, data={"csrf_token": token, **data})


def _template(db, name: str) -> ReplyTemplate | None:
    with db.session() as session:
        return session.scalar(select(ReplyTemplate).where(ReplyTemplate.name == name))


def _count(db) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(ReplyTemplate))


def _events(db, action: str) -> list[AuditEvent]:
    with db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _textarea(page: str, element_id: str) -> str:
    match = re.search(rf'<textarea id="{element_id}"[^>]*>(.*?)</textarea>', page, re.S)
    assert match, f"no textarea {element_id}"
    return html.unescape(match.group(1))


def _div(page: str, element_id: str) -> str:
    match = re.search(rf'<div class="text" id="{element_id}">(.*?)</div>', page, re.S)
    assert match, f"no preview {element_id}"
    return html.unescape(match.group(1))


def test_the_formal_notices_are_listed_with_their_kinds(admin):
    """The four formal notices of the demo appear with the kind of notice each is."""
    page = admin.get("/admin/templates/").get_data(as_text=True)
    for name in ("受理告知", "不予受理告知", "延期告知", "答复意见"):
        assert name in page
    assert "Notice of acceptance" in page and "Notice of refusal" in page
    assert page.count("Deactivate") == 4


def test_a_new_template_is_saved_audited_and_offered_to_the_composer(db, admin):
    """A created template is listed, written to the audit trail, and offered when replying."""
    response = _post(admin, "/admin/templates/new", **NEW)
    assert response.status_code == 303 and response.location == "/admin/templates/"
    assert "补充材料告知" in admin.get("/admin/templates/").get_data(as_text=True)
    template = _template(db, "补充材料告知")
    assert template.active and template.body == NEW["body"]
    (event,) = _events(db, "template.created")
    assert event.detail["template"] == template.id and event.actor_id is not None
    with db.session() as session:
        assert template.id in [t.id for t in reply_templates.templates_for(session, "zh")]


def test_an_unknown_variable_is_refused_with_the_allowed_ones_listed(db, admin):
    """A misspelt variable: the form comes back with the text, the wrong variable and the
    variables allowed; nothing is saved."""
    before = _count(db)
    response = _post(admin, "/admin/templates/new", **NEW | {"body": "{nmae}：您好，{today}"})
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 422
    assert "Unknown variable: {nmae}" in page
    assert "{name}, {tracking_number}, {received_date}, {reply_due}" in page
    assert "{nmae}：您好，{today}</textarea>" in page
    assert _count(db) == before


@pytest.mark.parametrize("body", ["您好 {name", "您好 }", "{name!r}", "{name.__class__}", "{}"])
def test_broken_braces_and_tricks_are_refused(db, admin, body):
    """Unbalanced braces, conversions, attributes and empty braces are no variables."""
    response = _post(admin, "/admin/templates/new", **NEW | {"body": body})
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 422
    assert "The variables allowed are: {name}" in page
    assert _template(db, NEW["name"]) is None


def test_doubled_braces_are_text(db, admin):
    """{{ and }} are a brace itself: the template is accepted and fills in as one brace."""
    response = _post(admin, "/admin/templates/new", **NEW | {"body": "编号{{{tracking_number}}}"})
    assert response.status_code == 303
    number = make_case(db, body="测试").case.tracking_number
    page = _post(
        admin,
        f"/admin/templates/{_template(db, NEW['name']).id}",
        **NEW | {"body": "编号{{{tracking_number}}}"},
        action="preview",
        tracking_number=number,
    ).get_data(as_text=True)
    assert _div(page, "preview-body") == f"编号{{{number}}}"


def test_editing_saves_the_change_and_audits_what_changed(db, admin):
    """The edit form is filled in; a saved change is audited with the fields changed."""
    template = _template(db, "受理告知")
    page = admin.get(f"/admin/templates/{template.id}").get_data(as_text=True)
    assert 'value="受理告知"' in page and '<option value="acceptance" selected>' in page
    body = "{name}：已受理，编号 {tracking_number}。"
    form = {"name": "受理告知", "kind": "acceptance", "language": "zh", "body": body}
    response = _post(admin, f"/admin/templates/{template.id}", **form)
    assert response.status_code == 303
    assert _template(db, "受理告知").body == body
    (event,) = _events(db, "template.updated")
    assert event.detail["changed"] == ["body"] and event.detail["template"] == template.id


def test_a_second_template_of_the_same_name_is_refused(db, admin):
    before = _count(db)
    response = _post(admin, "/admin/templates/new", **NEW | {"name": "答复意见"})
    assert response.status_code == 422
    assert "Another template in this language has this name." in response.get_data(as_text=True)
    assert _count(db) == before


def test_switching_off_and_on_takes_it_out_of_the_composer_and_back(db, admin):
    """Switched off, the reply form no longer offers the template; it is kept and listed;
    switched on again, it is offered again. Both are audited."""
    template = _template(db, "延期告知")
    response = _post(admin, f"/admin/templates/{template.id}/active", active="0")
    assert response.status_code == 303
    row = re.search(
        rf'<tr data-template="{template.id}">.*?</tr>',
        admin.get("/admin/templates/").get_data(as_text=True),
        re.S,
    ).group(0)
    assert "Inactive" in row and "Reactivate" in row
    with db.session() as session:
        assert template.id not in [t.id for t in reply_templates.templates_for(session, "zh")]
    _post(admin, f"/admin/templates/{template.id}/active", active="1")
    with db.session() as session:
        assert template.id in [t.id for t in reply_templates.templates_for(session, "zh")]
    assert len(_events(db, "template.deactivated")) == len(_events(db, "template.reactivated")) == 1
    assert _count(db) == 4  # nothing is ever deleted


def test_the_preview_fills_in_a_real_case_exactly_as_the_composer(db, admin):
    """Preview on a case: both versions are what the reply form starts with for that case;
    the template is not changed by a preview."""
    number = make_case(
        db, body="网络谣言需要澄清", notice_item="XC21-04", name="李四", email="li@example.cn"
    ).case.tracking_number
    template = _template(db, "受理告知")
    form = {"name": template.name, "kind": template.kind, "language": "zh", "body": template.body}
    response = _post(
        admin,
        f"/admin/templates/{template.id}",
        **form,
        action="preview",
        tracking_number=number.lower().replace("-", ""),
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    body, public = _div(page, "preview-body"), _div(page, "preview-public-body")
    case = case_by_number(db, number)
    assert body.startswith("李四：") and number in body and case.office.name in body
    assert "{" not in body
    composer = admin.get(f"/cases/{number}?template={template.id}").get_data(as_text=True)
    assert body == _textarea(composer, "reply-body")
    assert public == _textarea(composer, "reply-public-body")
    assert _template(db, "受理告知").body == template.body


def test_previewing_a_confidential_case_is_recorded_and_says_others_see_no_name(db, admin):
    """An admin may see a confidential citizen's name; the preview says officers get none, and
    the viewing goes to the audit trail like on the case page."""
    number = make_case(db, body="举报材料", name="王保密", confidential=True).case.tracking_number
    template = _template(db, "答复意见")
    form = {"name": template.name, "kind": template.kind, "language": "zh", "body": template.body}
    page = _post(
        admin, f"/admin/templates/{template.id}", **form, action="preview", tracking_number=number
    ).get_data(as_text=True)
    assert _div(page, "preview-body").startswith("王保密：")
    assert "officers and reviewers get this text without the name" in page
    (viewed,) = _events(db, "case.submitter_viewed")
    assert viewed.case_id == case_by_number(db, number).id


def test_a_preview_on_an_unknown_case_says_so(db, admin):
    response = _post(
        admin, "/admin/templates/new", **NEW, action="preview", tracking_number="ZZZZ-ZZZZ"
    )
    assert response.status_code == 422
    assert "No case has this tracking number." in response.get_data(as_text=True)
    assert _template(db, NEW["name"]) is None


def test_every_listed_variable_is_filled_in(db, demo):
    """The variables the form lists are exactly those the composer fills in."""
    number = make_case(db, body="测试", name="赵六").case.tracking_number
    body = "".join("{" + name + "}|" for name in VARIABLES)
    make_staff(db, "boss", "admin")
    with db.session() as session:
        from shared.models import Case, StaffUser

        case = session.scalar(select(Case).where(Case.tracking_number == number))
        user = session.scalar(select(StaffUser).where(StaffUser.username == "boss"))
        filled = reply_templates.fill_template(body, case, user)
    assert "{" not in filled and "赵六|" in filled and number in filled
