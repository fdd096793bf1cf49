"""Staff choose what the page of answered comments publishes: admins and the reviewers of the
case's office; only with the citizen's consent and an answer; unpublish at any time."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select

from shared.models import AuditEvent, Case, Message
from tests.conftest import case_by_number, csrf_token
from tests.factories import answer, log_in, make_case, make_staff, make_token

#: Routed to the cyber office (see the demo's routing).
BODY = "网评员经费不透明，我是李明，电话13987654321，家住东关村三组。"
ANSWER = "经核查，网评员经费明细已在县政府网站公开。"


def _case(db, *, consent: bool = True, answered: bool = True) -> Case:
    case = make_case(
        db, body=BODY, notice_item="XC21-04", name="李明", publish_consent=consent
    ).case
    assert case_by_number(db, case.tracking_number).office.code == "cyber"
    if answered:
        answer(db, case.tracking_number, ANSWER)
    return case


def _page(client, case: Case):
    return client.get(f"/cases/{case.tracking_number}?lang=en")


def _post(client, case: Case, step: str, **data):
    token = csrf_token(client, f"/cases/{case.tracking_number}")
    return client.post(
        f"/cases/{case.tracking_number}/{step}?lang=en", data={"csrf_token": token, **data}
    )


def _prefilled(html: str) -> str:
    match = re.search(r'<textarea id="publish-comment"[^>]*>([^<]*)</textarea>', html)
    assert match, "the publish form is on the page"
    return unescape(match[1])


def _events(db, action: str) -> list[AuditEvent]:
    with db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _public_page(db, settings) -> str:
    from intake import create_app

    return create_app(settings).test_client().get("/answered/").get_data(as_text=True)


def test_admin_publishes_the_redacted_comment_and_can_edit_it(db, demo, responder_client, settings):
    """The form starts with the comment redacted; what staff send is what is published; the
    audit trail has the facts and nothing of the citizen."""
    case = _case(db)
    make_staff(db, "admin1", "admin")
    log_in(responder_client, "admin1")
    html = _page(responder_client, case).get_data(as_text=True)
    draft = _prefilled(html)
    assert "网评员经费不透明" in draft
    assert "李明" not in draft and "13987654321" not in draft and "东关村三组" not in draft
    assert ANSWER in html  # the answer to be published, shown beside the form

    edited = draft.replace("网评员经费不透明", "网评员经费是否公开？")
    response = _post(responder_client, case, "publish", comment=edited)
    assert response.status_code == 303
    landing = responder_client.get(response.location).get_data(as_text=True)
    assert "Published on the page of answered comments." in landing
    stored = case_by_number(db, case.tracking_number)
    assert stored.published and stored.messages[0].public_body == edited
    assert stored.messages[0].body == BODY  # the original stays for staff

    public = _public_page(db, settings)
    assert "网评员经费是否公开？" in public and ANSWER in public
    assert "李明" not in public and "13987654321" not in public

    (event,) = _events(db, "case.published")
    assert event.case_id == case.id and event.actor_id is not None
    assert "李明" not in str(event.detail) and "网评员" not in str(event.detail)


def test_unpublish_at_any_time(db, demo, responder_client, settings):
    case = _case(db)
    make_staff(db, "admin1", "admin")
    log_in(responder_client, "admin1")
    assert _post(responder_client, case, "publish", comment="公开版本").status_code == 303
    html = _page(responder_client, case).get_data(as_text=True)
    assert 'id="unpublish-form"' in html and _prefilled(html) == "公开版本"
    assert _post(responder_client, case, "unpublish").status_code == 303
    assert not case_by_number(db, case.tracking_number).published
    assert "公开版本" not in _public_page(db, settings)
    assert len(_events(db, "case.unpublished")) == 1


def test_no_consent_no_control_and_the_step_is_refused(db, demo, responder_client):
    case = _case(db, consent=False)
    make_staff(db, "admin1", "admin")
    log_in(responder_client, "admin1")
    html = _page(responder_client, case).get_data(as_text=True)
    assert 'id="publishing"' not in html and "publish-comment" not in html
    response = _post(responder_client, case, "publish", comment="强行公开")
    landing = responder_client.get(response.location).get_data(as_text=True)
    assert "The citizen did not agree to publication" in landing
    assert not case_by_number(db, case.tracking_number).published
    assert _events(db, "case.published") == []


def test_not_before_an_answer(db, demo, responder_client):
    """Consent alone is not enough: the page says why, and publishing is refused."""
    case = _case(db, answered=False)
    make_staff(db, "admin1", "admin")
    log_in(responder_client, "admin1")
    html = _page(responder_client, case).get_data(as_text=True)
    assert "Only a case with an answer shown on the tracking page" in html
    assert "publish-comment" not in html
    response = _post(responder_client, case, "publish", comment="公开版本")
    assert "Only a case with an answer" in responder_client.get(response.location).get_data(
        as_text=True
    )
    assert not case_by_number(db, case.tracking_number).published


def test_an_empty_public_version_is_refused(db, demo, responder_client):
    case = _case(db)
    make_staff(db, "admin1", "admin")
    log_in(responder_client, "admin1")
    response = _post(responder_client, case, "publish", comment="   ")
    assert response.status_code == 303
    landing = responder_client.get(response.location).get_data(as_text=True)
    assert 'class="flash flash-error"' in landing
    assert not case_by_number(db, case.tracking_number).published


@pytest.mark.parametrize(
    ("role", "offices", "sees_control", "publish_status"),
    [
        ("reviewer", ["cyber"], True, 303),  # the office's reviewer decides
        ("officer", ["cyber"], False, 403),  # the officer answers, the reviewer publishes
        ("triager", [], False, 403),
        ("officer", ["finance"], None, 404),  # another office: the case does not exist
        ("reviewer", ["finance"], None, 404),
    ],
)
def test_who_may_publish(db, demo, responder_client, role, offices, sees_control, publish_status):
    case = _case(db)
    make_staff(db, "someone", role, offices)
    log_in(responder_client, "someone")
    page = _page(responder_client, case)
    if sees_control is None:
        assert page.status_code == 404
        token = csrf_token(responder_client, "/")
        for step in ("publish", "unpublish"):
            response = responder_client.post(
                f"/cases/{case.tracking_number}/{step}",
                data={"csrf_token": token, "comment": "越权公开"},
            )
            assert response.status_code == 404
    else:
        assert page.status_code == 200
        assert ('id="publish-form"' in page.get_data(as_text=True)) is sees_control
        response = _post(responder_client, case, "publish", comment="公开版本")
        assert response.status_code == publish_status
    assert case_by_number(db, case.tracking_number).published is (publish_status == 303)


def test_the_citizens_tracking_page_is_unchanged(db, demo, responder_client, settings):
    """Publishing changes nothing the citizen reads on their own page."""
    from intake import create_app

    receipt = make_case(db, body=BODY, notice_item="XC21-04", publish_consent=True)
    answer(db, receipt.case.tracking_number, ANSWER)
    citizen = create_app(settings).test_client()
    url = f"/track/{receipt.case.tracking_number}?passcode={receipt.passcode}"

    def tracking_page() -> str:
        html = citizen.get(url).get_data(as_text=True)
        return re.sub(r'name="csrf_token" value="[^"]*"', "", html)

    before = tracking_page()
    make_staff(db, "admin1", "admin")
    log_in(responder_client, "admin1")
    assert _post(responder_client, receipt.case, "publish", comment="公开版本").status_code == 303
    assert tracking_page() == before and BODY in before
    with db.session() as session:
        bodies = session.scalars(select(Message.body).where(Message.case_id == receipt.case.id))
        assert BODY in list(bodies)


def test_the_staff_api_publishes_and_unpublishes(db, demo, responder_client):
    """The same step in JSON: 404 for a stranger (whatever the body), 403 for a role that may
    not, 422 with the field for a missing text or a case without consent."""
    case = _case(db)
    no_consent = _case(db, consent=False)
    tokens = {
        name: make_token(db, name, role, offices)
        for name, role, offices in [
            ("rev", "reviewer", ["cyber"]),
            ("off", "officer", ["cyber"]),
            ("stranger", "officer", ["finance"]),
        ]
    }

    def post(who: str, target: Case, step: str, body=None):
        return responder_client.post(
            f"/api/v1/cases/{target.tracking_number}/{step}?lang=en",
            json=body if body is not None else {},
            headers={"Authorization": f"Bearer {tokens[who]}"},
        )

    assert post("stranger", case, "publish", {"comment": "越权"}).status_code == 404
    assert post("stranger", case, "publish", {"x": 1}).status_code == 404
    assert post("off", case, "publish", {"comment": "公开版本"}).status_code == 403
    missing = post("rev", case, "publish", {})
    assert missing.status_code == 422 and "comment" in missing.json["errors"]
    refused = post("rev", no_consent, "publish", {"comment": "公开版本"})
    assert refused.status_code == 422 and "did not agree" in str(refused.json["errors"])
    done = post("rev", case, "publish", {"comment": "公开版本"})
    assert done.status_code == 200 and done.json == {
        "tracking_number": case.tracking_number,
        "published": True,
    }
    assert case_by_number(db, case.tracking_number).messages[0].public_body == "公开版本"
    assert post("rev", case, "unpublish").json["published"] is False
    assert post("rev", case, "unpublish").status_code == 422  # not published any more
    assert not case_by_number(db, case.tracking_number).published
