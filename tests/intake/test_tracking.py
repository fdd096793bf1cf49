"""The citizen's own case: its story, rating the answer, adding information."""

from __future__ import annotations

import re

from sqlalchemy import select

from shared.models import Message, Rating
from tests.conftest import csrf_token
from tests.factories import answer, make_case


def _page(client, receipt, **params):
    number = receipt.case.tracking_number
    query = "&".join(f"{k}={v}" for k, v in {"passcode": receipt.passcode, **params}.items())
    return client.get(f"/track/{number}?{query}")


def _post(client, receipt, action, **fields):
    number = receipt.case.tracking_number
    token = csrf_token(client, f"/track/{number}?passcode={receipt.passcode}")
    data = {"csrf_token": token, "passcode": receipt.passcode, **fields}
    return client.post(f"/track/{number}/{action}", data=data)


def test_page_tells_the_story_so_far(db, demo, intake_client):
    """Received, with the due date and the comment itself; no rating before an answer."""
    receipt = make_case(db, body="请公开整改台账")
    html = _page(intake_client, receipt).get_data(as_text=True)
    assert "已收到" in html and "答复期限" in html and "请公开整改台账" in html
    assert 'name="rating"' not in html


def test_citizen_adds_information_to_own_case(db, demo, intake_client):
    """The addition joins the thread and shows on the page after a redirect."""
    receipt = make_case(db)
    response = _post(intake_client, receipt, "messages", body="补充：台账在第三页")
    assert response.status_code == 303
    html = intake_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "您补充了情况" in html and "补充：台账在第三页" in html and "已补充到您的留言" in html
    with db.session() as session:
        bodies = session.scalars(select(Message.body).where(Message.case_id == receipt.case.id))
        assert "补充：台账在第三页" in list(bodies)


def test_empty_addition_is_refused_and_wrong_passcode_finds_nothing(db, demo, intake_client):
    """An empty text gets a field error; a wrong passcode gets 404 and stores nothing."""
    receipt = make_case(db)
    assert _post(intake_client, receipt, "messages", body="  ").status_code == 422
    number = receipt.case.tracking_number
    token = csrf_token(intake_client, f"/track/{number}?passcode={receipt.passcode}")
    forged = intake_client.post(
        f"/track/{number}/messages", data={"csrf_token": token, "passcode": "WRONGWRO", "body": "x"}
    )
    assert forged.status_code == 404
    with db.session() as session:
        assert (
            len(session.scalars(select(Message).where(Message.case_id == receipt.case.id)).all())
            == 1
        )


def test_tracking_forms_need_the_csrf_token(db, demo, intake_client):
    """A form posted from another site is refused."""
    receipt = make_case(db)
    number = receipt.case.tracking_number
    response = intake_client.post(
        f"/track/{number}/messages", data={"passcode": receipt.passcode, "body": "x"}
    )
    assert response.status_code == 400


def test_answered_case_can_be_rated_once(db, demo, intake_client):
    """Once answered the page offers the rating; after rating it says thanks and offers no more."""
    receipt = make_case(db)
    answer(db, receipt.case.tracking_number, body="答复：已公开。")
    html = _page(intake_client, receipt).get_data(as_text=True)
    assert "答复：已公开。" in html and 'name="rating"' in html
    response = _post(intake_client, receipt, "rating", rating="basically_satisfied", comment="还行")
    assert response.status_code == 303
    html = intake_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "感谢您的评价" in html and "基本满意" in html
    assert 'name="rating"' not in html
    again = _post(intake_client, receipt, "rating", rating="satisfied")
    assert again.status_code == 422
    with db.session() as session:
        ratings = session.scalars(select(Rating).where(Rating.case_id == receipt.case.id)).all()
        assert [(r.value, r.comment) for r in ratings] == [("basically_satisfied", "还行")]


def test_rating_without_a_choice_keeps_the_comment(db, demo, intake_client):
    """No rating chosen: the form says so and the written comment is still there."""
    receipt = make_case(db)
    answer(db, receipt.case.tracking_number)
    response = _post(intake_client, receipt, "rating", comment="我写了很多字")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "请选择您的满意程度" in html and "我写了很多字" in html


def test_api_rating_follows_the_contract(db, demo, intake_client):
    """POST …/rating: 422 before an answer, 201 after, 404 with a wrong passcode."""
    receipt = make_case(db)
    url = f"/api/v1/feedback/{receipt.case.tracking_number}/rating"
    headers = {"X-Passcode": receipt.passcode}
    early = intake_client.post(url, json={"rating": "satisfied"}, headers=headers)
    assert early.status_code == 422 and list(early.json["errors"]) == ["rating"]
    answer(db, receipt.case.tracking_number)
    wrong = intake_client.post(url, json={"rating": "satisfied"}, headers={"X-Passcode": "NOPE"})
    assert wrong.status_code == 404
    response = intake_client.post(
        url, json={"rating": "unsatisfied", "comment": "没解决"}, headers=headers
    )
    assert response.status_code == 201
    assert response.json["rating"] == "unsatisfied" and response.json["comment"] == "没解决"
    assert re.match(r"\d{4}-\d\d-\d\dT.*\+08:00$", response.json["created_at"])
    bad = intake_client.post(url, json={"rating": "great"}, headers=headers)
    assert bad.status_code == 422


def test_api_adds_information(db, demo, intake_client):
    """POST …/messages adds to the thread; the public view is unchanged otherwise."""
    receipt = make_case(db)
    url = f"/api/v1/feedback/{receipt.case.tracking_number}/messages"
    response = intake_client.post(
        url, json={"body": "补充材料"}, headers={"X-Passcode": receipt.passcode}
    )
    assert response.status_code == 201 and response.json["body"] == "补充材料"


def test_english_tracking_page(db, demo, intake_client):
    """With ?lang=en the page and its forms are English."""
    receipt = make_case(db)
    answer(db, receipt.case.tracking_number)
    html = _page(intake_client, receipt, lang="en").get_data(as_text=True)
    assert "What has happened" in html and "Send rating" in html and "Add information" in html
