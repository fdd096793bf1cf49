"""The staff JSON API: tokens, per-office isolation, the protected submitter, phone entries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from shared.models import AuditEvent, Case
from tests.factories import make_case, make_token


def _auth(token):
    return {"Authorization": f"Bearer {token}"}


def test_api_needs_a_valid_token(db, demo, responder_client):
    """No token, a wrong token, or a bad header: 401 in JSON."""
    for headers in ({}, _auth("nope"), {"Authorization": "Basic abc"}):
        response = responder_client.get("/api/v1/cases", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert "message" in response.json


def test_case_list_has_contract_fields(db, demo, responder_client):
    """Each listed case carries tracking number, status, office, channel and dates."""
    token = make_token(db, "admin1", "admin")
    receipt = make_case(db, notice_item="XC21-04")
    body = responder_client.get("/api/v1/cases", headers=_auth(token)).json
    assert body["next_cursor"] is None
    [item] = body["items"]
    assert item["tracking_number"] == receipt.case.tracking_number
    assert item["office"] == "cyber" and item["status"] == "assigned" and item["channel"] == "web"
    assert item["notice_item"] == "XC21-04" and item["reply_due"].endswith("+08:00")


def test_officer_gets_404_for_another_office(db, demo, responder_client):
    """Another office's case does not exist for an officer: 404, not 403."""
    token = make_token(db, "fin1", "officer", ["finance"])
    other = make_case(db, notice_item="XC21-04").case
    mine = make_case(db, notice_item="XC21-08").case
    assert (
        responder_client.get(
            f"/api/v1/cases/{other.tracking_number}", headers=_auth(token)
        ).status_code
        == 404
    )
    assert (
        responder_client.get(
            f"/api/v1/cases/{mine.tracking_number}", headers=_auth(token)
        ).status_code
        == 200
    )
    listed = responder_client.get("/api/v1/cases", headers=_auth(token)).json["items"]
    assert [c["tracking_number"] for c in listed] == [mine.tracking_number]


def test_case_detail_has_thread_and_submitter(db, demo, responder_client):
    """The case shows its messages oldest first and, for an ordinary case, the submitter."""
    token = make_token(db, "fin1", "officer", ["finance"])
    case = make_case(db, notice_item="XC21-08", name="李四", email="lisi@example.cn").case
    body = responder_client.get(f"/api/v1/cases/{case.tracking_number}", headers=_auth(token)).json
    assert body["messages"][0]["kind"] == "inbound"
    assert body["messages"][0]["attachments"] == []
    assert body["submitter"]["name"] == "李四"
    assert body["submitter"]["email"] == "lisi@example.cn"


def test_confidential_submitter_hidden_from_officer_and_audited_for_triager(
    db, demo, responder_client
):
    """Only admins and triagers see a confidential submitter, and each view is audited."""
    officer = make_token(db, "fin1", "officer", ["finance"])
    triager = make_token(db, "tri1", "triager")
    case = make_case(db, notice_item="XC21-08", name="王五", confidential=True).case
    url = f"/api/v1/cases/{case.tracking_number}"
    assert responder_client.get(url, headers=_auth(officer)).json["submitter"] is None
    assert responder_client.get(url, headers=_auth(triager)).json["submitter"]["name"] == "王五"
    with db.session() as session:
        views = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "case.submitter_viewed")
        ).all()
        assert len(views) == 1 and views[0].case_id == case.id


@pytest.mark.clock(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))
def test_staff_register_a_phone_call_in_the_past(db, demo, responder_client):
    """A phone call registered later keeps the time it was received and is routed like any other."""
    token = make_token(db, "tri1", "triager")
    response = responder_client.post(
        "/api/v1/cases",
        headers=_auth(token),
        json={
            "channel": "phone",
            "received_at": "2026-11-20T09:30:00+08:00",
            "body": "来电反映差旅费报销问题",
            "name": "赵六",
            "phone": "0932-1234567",
        },
    )
    assert response.status_code == 201, response.json
    with db.session() as session:
        case = session.scalar(
            select(Case).where(Case.tracking_number == response.json["tracking_number"])
        )
        assert case.channel == "phone"
        assert case.received_at.isoformat() == "2026-11-20T01:30:00+00:00"
        assert case.office.code == "finance"
        assert case.registered_by_id is not None


def test_registering_needs_a_staff_channel(db, demo, responder_client):
    """Staff entries are phone, letter or visit; anything else is a 422 naming the field."""
    token = make_token(db, "tri1", "triager")
    response = responder_client.post(
        "/api/v1/cases", headers=_auth(token), json={"channel": "web", "body": "x"}
    )
    assert response.status_code == 422
    assert list(response.json["errors"]) == ["channel"]


def test_offices_list(db, demo, responder_client):
    """The offices with code, name and email."""
    token = make_token(db, "tri1", "triager")
    offices = responder_client.get("/api/v1/offices", headers=_auth(token)).json
    assert {"code": "cyber", "name": "县委网信办", "email": "cyber@xcb.tongwei.example"} in offices
    assert len(offices) == 8
