"""Satisfaction: rating by the tracking page or the link in the answer mail; unsatisfied
reopens the case for re-handling with a new deadline; no rating in time closes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from shared.models import Case, Message, OutboxEmail
from shared.operations import tracking
from shared.security import rating_token
from tests.conftest import case_by_number, csrf_token
from tests.factories import SETTINGS, answer, make_case


def _rating_link(intake_client, number: str) -> str:
    secret = intake_client.application.config["SECRET_KEY"]
    return f"/rate/{rating_token(secret, number)}"


def test_the_link_in_the_mail_rates_without_the_passcode(db, demo, intake_client):
    """The signed link opens a rating form; satisfied closes the case."""
    number = make_case(db, body="财务报销不公开").case.tracking_number
    answer(db, number)
    link = _rating_link(intake_client, number)
    assert "满意" in intake_client.get(link).get_data(as_text=True)
    token = csrf_token(intake_client, link)
    response = intake_client.post(link, data={"csrf_token": token, "rating": "satisfied"})
    assert response.status_code == 200 and "感谢您的评价" in response.get_data(as_text=True)
    assert case_by_number(db, number).status == "closed"
    second = intake_client.post(link, data={"csrf_token": token, "rating": "unsatisfied"})
    assert "已评价过" in second.get_data(as_text=True)
    assert case_by_number(db, number).status == "closed"


def test_a_forged_or_foreign_link_finds_nothing(db, demo, intake_client):
    """A made-up token, or one signed with another key, is a 404."""
    number = make_case(db, body="财务报销不公开").case.tracking_number
    answer(db, number)
    assert intake_client.get(f"/rate/{number}").status_code == 404
    foreign = rating_token("another-secret", number)
    assert intake_client.get(f"/rate/{foreign}").status_code == 404


def test_unsatisfied_reopens_with_a_new_deadline_and_tells_the_office(db, demo):
    """Re-handling: back to the office, counted, a later deadline, the office mailed."""
    from shared.models import Office

    with db.transaction() as session:
        session.execute(update(Office).where(Office.code == "finance").values(email="f@gov.test"))
    number = make_case(db, body="财务报销不公开").case.tracking_number
    answer(db, number)
    before = case_by_number(db, number).reply_due
    with db.transaction() as session:
        case = session.scalar(select(Case).where(Case.tracking_number == number))
        tracking.rate(session, case, "unsatisfied", "没有解决", settings=SETTINGS)
    reopened = case_by_number(db, number)
    assert reopened.status == "assigned" and reopened.reopened_count == 1
    assert reopened.reply_due > datetime.now(UTC) and reopened.reply_due != before
    with db.session() as session:
        notice = session.scalar(
            select(OutboxEmail).where(OutboxEmail.to_addr.contains("f@gov.test"))
        )
        assert notice is not None and number in notice.subject
        events = session.scalars(
            select(Message.event).where(Message.case_id == reopened.id, Message.kind == "event")
        ).all()
        assert {"action": "reopened", "count": 1} in events


def test_no_rating_in_time_closes_the_case(db, demo):
    """Answered more than the rating window ago and not rated: closed by the worker's pass."""
    old = make_case(db, body="财务报销不公开").case.tracking_number
    fresh = make_case(db, body="另一件财务问题").case.tracking_number
    answer(db, old)
    answer(db, fresh)
    long_ago = datetime.now(UTC) - timedelta(days=tracking.RATING_WINDOW_DAYS + 1)
    with db.transaction() as session:
        case_id = session.scalar(select(Case.id).where(Case.tracking_number == old))
        session.execute(update(Case).where(Case.id == case_id).values(first_replied_at=long_ago))
        session.execute(
            update(Message)
            .where(Message.case_id == case_id, Message.kind == "reply")
            .values(created_at=long_ago)
        )
    with db.transaction() as session:
        assert tracking.close_unrated(session) == 1
    assert case_by_number(db, old).status == "closed"
    assert case_by_number(db, fresh).status == "replied"
