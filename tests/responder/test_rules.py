"""Admins edit the routing rules in the browser: list, add, edit, preview, reorder, switch off."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from shared.models import AuditEvent, Case, RoutingRule
from tests.conftest import csrf_token
from tests.factories import make_case, make_staff

RULE = {
    "name": "路灯转文明办",
    "office": "civil",
    "notice_item": "",
    "category": "",
    "channel": "",
    "keywords": "路灯\n井盖",
    "sender_domain": "",
}


def _login(client, username: str) -> None:
    token = csrf_token(client, "/login")
    client.post(
        "/login", data={"username": username, "password": "correct horse 1", "csrf_token": token}
    )


@pytest.fixture
def admin_client(db, demo, responder_client):
    """A client logged in as an admin, reading the pages in English."""
    make_staff(db, "boss", "admin")
    _login(responder_client, "boss")
    responder_client.get("/admin/rules/?lang=en")
    return responder_client


def _post(client, path: str, **data):
    token = csrf_token(client, "/admin/rules/new")
    return client.post(path, data={"csrf_token": token, **data})


def _rule_count(db) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(RoutingRule))


def _rule_named(db, name: str) -> RoutingRule:
    with db.session() as session:
        return session.scalar(select(RoutingRule).where(RoutingRule.name == name))


def test_list_shows_rules_in_order_with_conditions_and_office(admin_client):
    """The demo rules appear in order, each with its keywords, kind of comment and office."""
    page = admin_client.get("/admin/rules/").get_data(as_text=True)
    assert page.index("网络舆情转县委网信办") < page.index("表扬转办公室")
    assert "舆情、网络、网评、谣言" in page and "Kind of comment: Praise" in page
    assert "县委网信办" in page


def test_new_rule_is_saved_and_routes_the_next_case(db, admin_client):
    """A rule created in the form routes the next matching case to its office."""
    response = _post(admin_client, "/admin/rules/new", **RULE)
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/rules/"
    page = admin_client.get("/admin/rules/").get_data(as_text=True)
    assert "路灯转文明办" in page and "The rule is saved." in page
    case = make_case(db, body="井盖丢了").case
    with db.session() as session:
        assert session.get(Case, case.id).office.code == "civil"


def test_editing_a_rule_shows_its_values_and_saves_changes(db, admin_client):
    """The edit form is filled in; the saved change is what the rule does next."""
    _post(admin_client, "/admin/rules/new", **RULE)
    rule = _rule_named(db, "路灯转文明办")
    page = admin_client.get(f"/admin/rules/{rule.id}").get_data(as_text=True)
    assert 'value="路灯转文明办"' in page and "路灯\n井盖</textarea>" in page
    response = _post(admin_client, f"/admin/rules/{rule.id}", **RULE | {"office": "news"})
    assert response.status_code == 303
    assert _rule_named(db, "路灯转文明办").office_id != rule.office_id
    with db.session() as session:
        assert session.scalar(select(AuditEvent).where(AuditEvent.action == "rule.updated"))


def test_preview_shows_the_cases_that_would_match_and_saves_nothing(db, admin_client):
    """Preview lists the recent cases the typed rule catches; no rule is added."""
    lamp = make_case(db, body="路灯坏了三天").case.tracking_number
    other = make_case(db, body="路面坑洼").case.tracking_number
    before = _rule_count(db)
    response = _post(admin_client, "/admin/rules/new", action="preview", **RULE)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert lamp in page and "路灯坏了三天" in page
    assert other not in page
    assert "Of the last 2 cases, 1 would match this rule" in page
    assert 'value="路灯转文明办"' in page  # the form is still filled in
    assert _rule_count(db) == before


def test_invalid_input_keeps_what_was_typed_and_says_what_is_wrong(db, admin_client):
    """A bad sender domain is reported on its field; every typed value is still there."""
    before = _rule_count(db)
    form = RULE | {"sender_domain": "gov cn!", "category": "complaint"}
    response = _post(admin_client, "/admin/rules/new", **form)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enter a mail domain such as gov.cn." in page
    assert 'value="gov cn!"' in page and 'value="路灯转文明办"' in page
    assert "路灯\n井盖</textarea>" in page
    assert '<option value="complaint" selected>' in page
    assert _rule_count(db) == before


def test_a_rule_without_conditions_is_refused_with_the_reason(db, admin_client):
    """No condition at all: the admin is told such a rule would match nothing."""
    response = _post(admin_client, "/admin/rules/new", **RULE | {"keywords": ""})
    assert response.status_code == 422
    assert "a rule without conditions matches nothing" in response.get_data(as_text=True)


def test_reorder_and_deactivate_from_the_list(db, admin_client):
    """Moving the last rule up puts it one place higher; deactivating takes it out of routing."""
    _post(admin_client, "/admin/rules/new", **RULE)
    rule = _rule_named(db, "路灯转文明办")
    assert _post(admin_client, f"/admin/rules/{rule.id}/move", direction="up").status_code == 303
    with db.session() as session:
        order = session.scalars(select(RoutingRule.id).order_by(RoutingRule.position)).all()
    assert order[-2] == rule.id
    assert _post(admin_client, f"/admin/rules/{rule.id}/active", active="0").status_code == 303
    assert not _rule_named(db, "路灯转文明办").active
    assert "Reactivate" in admin_client.get("/admin/rules/").get_data(as_text=True)
    case = make_case(db, body="路灯坏了").case
    with db.session() as session:
        assert session.get(Case, case.id).office is None


def test_bad_direction_or_state_is_a_bad_request(db, admin_client):
    """Only up/down and 0/1 are understood."""
    rule = _rule_named(db, "表扬转办公室")
    assert _post(admin_client, f"/admin/rules/{rule.id}/move", direction="top").status_code == 400
    assert _post(admin_client, f"/admin/rules/{rule.id}/active", active="yes").status_code == 400


def test_unknown_rule_is_not_found(admin_client):
    """A rule id that does not exist answers 404 on every rule address."""
    assert admin_client.get("/admin/rules/99999").status_code == 404
    assert _post(admin_client, "/admin/rules/99999", **RULE).status_code == 404
    assert _post(admin_client, "/admin/rules/99999/move", direction="up").status_code == 404
    assert _post(admin_client, "/admin/rules/99999/active", active="0").status_code == 404


def test_post_without_csrf_token_is_refused(db, admin_client):
    """A form posted from elsewhere changes nothing."""
    rule = _rule_named(db, "表扬转办公室")
    before = _rule_count(db)
    assert admin_client.post("/admin/rules/new", data=RULE).status_code == 400
    assert (
        admin_client.post(f"/admin/rules/{rule.id}/active", data={"active": "0"}).status_code == 400
    )
    assert _rule_count(db) == before and _rule_named(db, "表扬转办公室").active


def _urls(rule_id: int) -> list[tuple[str, str]]:
    return [
        ("GET", "/admin/rules/"),
        ("GET", "/admin/rules/new"),
        ("POST", "/admin/rules/new"),
        ("GET", f"/admin/rules/{rule_id}"),
        ("POST", f"/admin/rules/{rule_id}"),
        ("POST", f"/admin/rules/{rule_id}/move"),
        ("POST", f"/admin/rules/{rule_id}/active"),
    ]


def test_rules_are_for_admins_only(db, demo, responder_client):
    """Officers, triagers and reviewers get 404 on every rules address; nothing changes."""
    rule = _rule_named(db, "表扬转办公室")
    for role in ("officer", "triager", "reviewer"):
        make_staff(db, role, role, offices=("office",) if role != "triager" else ())
        _login(responder_client, role)
        token = csrf_token(responder_client, "/")
        for method, url in _urls(rule.id):
            data = {"csrf_token": token, "direction": "up", "active": "0", **RULE}
            response = responder_client.open(url, method=method, data=data)
            assert response.status_code == 404, (role, method, url)
        responder_client.post("/logout", data={"csrf_token": token})
    assert _rule_named(db, "表扬转办公室").active


def test_anonymous_visitors_are_sent_to_login(db, demo, responder_client):
    """Without a login, every rules address redirects to the login page and changes nothing."""
    rule = _rule_named(db, "表扬转办公室")
    token = csrf_token(responder_client, "/login")
    for method, url in _urls(rule.id):
        data = {"csrf_token": token, "direction": "up", "active": "0", **RULE}
        response = responder_client.open(url, method=method, data=data)
        assert response.status_code == 302, (method, url)
        assert response.headers["Location"].startswith("/login"), (method, url)
    assert _rule_named(db, "表扬转办公室").active
