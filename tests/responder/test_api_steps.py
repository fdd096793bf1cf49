"""Steps on a case through the staff JSON API: assign, notes, not ours, spam, repeat, close."""

from __future__ import annotations

import json

import pytest

from tests.conftest import case_by_number
from tests.factories import make_case, make_token


def _auth(token):
    return {"Authorization": f"Bearer {token}"}


def test_assign_then_transfer_with_reason(db, demo, responder_client):
    """Triage assigns a waiting case; a transfer needs a reason; events list both."""
    token = make_token(db, "triage1", "triager")
    number = make_case(db, body="路灯坏了").case.tracking_number
    response = responder_client.post(
        f"/api/v1/cases/{number}/assign", json={"office": "civil"}, headers=_auth(token)
    )
    assert response.status_code == 200 and response.json["office"] == "civil"
    refused = responder_client.post(
        f"/api/v1/cases/{number}/assign", json={"office": "media"}, headers=_auth(token)
    )
    assert refused.status_code == 422 and "reason" in refused.json["errors"]
    moved = responder_client.post(
        f"/api/v1/cases/{number}/assign",
        json={"office": "media", "reason": "属融媒体中心"},
        headers=_auth(token),
    )
    assert moved.json["office"] == "media"
    detail = responder_client.get(f"/api/v1/cases/{number}", headers=_auth(token)).json
    assert [e["action"] for e in detail["events"]] == ["assigned", "transferred"]
    assert detail["events"][1]["facts"] == {"office": "media", "from_office": "civil"}
    assert detail["events"][1]["reason"] == "属融媒体中心"
    assert {m["kind"] for m in detail["messages"]} == {"inbound"}


def test_unknown_office_is_a_field_error(db, demo, responder_client):
    """Assigning to an office that does not exist: 422 naming the field."""
    token = make_token(db, "triage1", "triager")
    number = make_case(db, body="路灯坏了").case.tracking_number
    response = responder_client.post(
        f"/api/v1/cases/{number}/assign", json={"office": "nope"}, headers=_auth(token)
    )
    assert response.status_code == 422 and "office" in response.json["errors"]


def test_note_is_added_and_listed(db, demo, responder_client):
    """A note posted by the office is in the thread as kind note."""
    token = make_token(db, "fin1", "officer", ["finance"])
    number = make_case(db, body="财务报销不公开").case.tracking_number
    response = responder_client.post(
        f"/api/v1/cases/{number}/notes", json={"body": "已核实"}, headers=_auth(token)
    )
    assert response.status_code == 201
    detail = responder_client.get(f"/api/v1/cases/{number}", headers=_auth(token)).json
    assert [(m["kind"], m["body"]) for m in detail["messages"]][-1] == ("note", "已核实")


def test_officer_returns_a_case_and_loses_sight_of_it(db, demo, responder_client):
    """ "Not ours" puts the case back in triage; the office then gets 404 for it."""
    token = make_token(db, "fin1", "officer", ["finance"])
    number = make_case(db, body="财务报销不公开").case.tracking_number
    response = responder_client.post(
        f"/api/v1/cases/{number}/return", json={"reason": "非本科室职责"}, headers=_auth(token)
    )
    assert response.status_code == 200 and response.json["office"] is None
    assert response.json["status"] == "received"
    assert responder_client.get(f"/api/v1/cases/{number}", headers=_auth(token)).status_code == 404


def test_officer_may_not_assign_or_mark_spam(db, demo, responder_client):
    """Roles: an officer's assign and spam requests are 403 and change nothing."""
    token = make_token(db, "fin1", "officer", ["finance"])
    number = make_case(db, body="财务报销不公开").case.tracking_number
    for step, body in (("assign", {"office": "cyber", "reason": "x"}), ("spam", {})):
        response = responder_client.post(
            f"/api/v1/cases/{number}/{step}", json=body, headers=_auth(token)
        )
        assert response.status_code == 403
    stored = case_by_number(db, number)
    assert (stored.status, stored.office.code) == ("assigned", "finance")


def test_spam_and_back(db, demo, responder_client):
    """Spam is marked and unmarked; the case returns to where it was."""
    token = make_token(db, "triage1", "triager")
    number = make_case(db, body="财务报销不公开").case.tracking_number
    marked = responder_client.post(f"/api/v1/cases/{number}/spam", headers=_auth(token))
    assert marked.json["status"] == "spam"
    back = responder_client.post(
        f"/api/v1/cases/{number}/spam", json={"spam": False}, headers=_auth(token)
    )
    assert back.json["status"] == "assigned"


def test_duplicate_and_close(db, demo, responder_client):
    """A repeat points to its original; close needs no body and cannot happen twice."""
    token = make_token(db, "triage1", "triager")
    first = make_case(db, body="财务报销不公开").case.tracking_number
    second = make_case(db, body="财务报销还是不公开").case.tracking_number
    marked = responder_client.post(
        f"/api/v1/cases/{second}/duplicate", json={"duplicate_of": first}, headers=_auth(token)
    )
    assert marked.json["duplicate_of"] == first
    closed = responder_client.post(f"/api/v1/cases/{second}/close", headers=_auth(token))
    assert closed.status_code == 200 and closed.json["status"] == "closed"
    again = responder_client.post(
        f"/api/v1/cases/{second}/close", json={"reason": "再次"}, headers=_auth(token)
    )
    assert again.status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {"office": ["civil"]},
        {"office": "civil", "reason": "\x00"},
        {"office": "civil", "reason": "x" * 1001},
        '{"office": "civil", "reason": "\\ud800"}',
        [1, 2],
    ],
)
def test_hostile_bodies_get_422_not_500(db, demo, responder_client, body):
    """Wrong types, NUL, lone surrogates and overlong reasons: a clear 422."""
    token = make_token(db, "triage1", "triager")
    number = make_case(db, body="路灯坏了").case.tracking_number
    raw = body if isinstance(body, str) else json.dumps(body)
    response = responder_client.post(
        f"/api/v1/cases/{number}/assign",
        data=raw,
        headers={**_auth(token), "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.json
    assert case_by_number(db, number).office is None


def test_malformed_json_is_400(db, demo, responder_client):
    """Not JSON at all: 400."""
    token = make_token(db, "triage1", "triager")
    number = make_case(db, body="路灯坏了").case.tracking_number
    response = responder_client.post(
        f"/api/v1/cases/{number}/notes",
        data=b"{not json",
        headers={**_auth(token), "Content-Type": "application/json"},
    )
    assert response.status_code == 400


def test_one_extension_asked_by_the_office_granted_by_its_reviewer(db, demo, responder_client):
    """An officer asks for 10 more days; they cannot grant it themselves; a reviewer of the
    office grants it and the deadline moves; a second extension is refused."""
    officer = make_token(db, "fin1", "officer", ["finance"])
    reviewer = make_token(db, "rev1", "reviewer", ["finance"])
    number = make_case(db, body="财务报销不公开").case.tracking_number
    before = case_by_number(db, number).reply_due
    asked = responder_client.post(
        f"/api/v1/cases/{number}/extension",
        json={"days": 10, "reason": "需要调取三年账目"},
        headers=_auth(officer),
    )
    assert asked.status_code == 200
    own = responder_client.post(f"/api/v1/cases/{number}/extension/approve", headers=_auth(officer))
    assert own.status_code == 422 and "不能批准自己" in own.get_data(as_text=True)
    granted = responder_client.post(
        f"/api/v1/cases/{number}/extension/approve", headers=_auth(reviewer)
    )
    assert granted.status_code == 200
    assert (case_by_number(db, number).reply_due - before).days == 10
    again = responder_client.post(
        f"/api/v1/cases/{number}/extension",
        json={"days": 5, "reason": "再延"},
        headers=_auth(officer),
    )
    assert again.status_code == 422
    too_long = make_case(db, body="另一件财务问题").case.tracking_number
    refused = responder_client.post(
        f"/api/v1/cases/{too_long}/extension",
        json={"days": 31, "reason": "太长"},
        headers=_auth(officer),
    )
    assert refused.status_code == 422
    events = responder_client.get(f"/api/v1/cases/{number}", headers=_auth(reviewer)).json
    assert [e["action"] for e in events["events"]] == ["extension_requested", "extension_approved"]
