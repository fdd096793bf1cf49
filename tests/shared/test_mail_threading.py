"""What becomes of a mail: a new case, a follow-up on the right case, or nothing for machines."""

from __future__ import annotations

from email.message import EmailMessage

from sqlalchemy import func, select

from shared.models import Case, InboundMail, Message, OutboxEmail
from shared.operations.mail_intake import accepts_recipient, receive_mail
from tests.factories import SETTINGS, make_case

MAIL_SETTINGS = {
    **SETTINGS,
    "INTAKE_ADDRESS": "feedback@minyi.test",
    "RESPONDER_BASE_URL": "http://r.test",
}


def _mail(sender="citizen@example.cn", subject="意见", body="正文", **headers) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, "feedback@minyi.test", subject
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes()


def _receive(db, raw, **kwargs):
    with db.transaction() as session:
        result = receive_mail(session, raw, settings=MAIL_SETTINGS, source="file", **kwargs)
        return (
            result.outcome,
            (result.case.tracking_number if result.case else None),
            result.duplicate,
        )


def _count(db, model) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_new_mail_opens_a_case_from_the_sender(db, demo):
    """A citizen's mail becomes an email case with their address, and is acknowledged."""
    outcome, number, _ = _receive(db, _mail(subject="关于财务公开", body="请公开差旅费报销情况。"))
    assert outcome == "case"
    with db.session() as session:
        case = session.scalar(select(Case).where(Case.tracking_number == number))
        assert (case.channel, case.submitter_email, case.office.code) == (
            "email",
            "citizen@example.cn",
            "finance",
        )
    assert _count(db, OutboxEmail) == 1


def test_reply_to_our_acknowledgement_joins_the_case(db, demo):
    """In-Reply-To naming our mail: a follow-up, trimmed of the quote, and the office is told."""
    case = make_case(db, email="citizen@example.cn", notice_item="XC21-04").case
    with db.session() as session:
        our_id = session.scalar(
            select(OutboxEmail.message_id).where(OutboxEmail.case_id == case.id)
        )
    raw = _mail(
        subject="Re: 已收到",
        body="补充：见附件。\n\n-----原始邮件-----\n> 已收到",
        In_Reply_To=our_id,
    )
    outcome, number, _ = _receive(db, raw)
    assert (outcome, number) == ("follow_up", case.tracking_number)
    assert _count(db, Case) == 1
    with db.session() as session:
        last = session.scalars(
            select(Message).where(Message.case_id == case.id).order_by(Message.id)
        ).all()[-1]
        assert last.body == "补充：见附件。"
        told = session.scalar(select(OutboxEmail).where(OutboxEmail.to_addr.like("%cyber@%")))
        assert told is not None and case.tracking_number in told.subject


def test_mail_to_the_case_reply_address_joins_the_case(db, demo):
    """reply+TOKEN@REPLY_DOMAIN leads to its case whatever the subject."""
    case = make_case(db).case
    address = f"reply+{case.reply_token}@minyi.test"
    outcome, number, _ = _receive(db, _mail(subject="另一件事"), envelope_to=[address])
    assert (outcome, number) == ("follow_up", case.tracking_number)


def test_tracking_number_in_subject_needs_the_same_sender(db, demo):
    """The case's own citizen may cite its number; someone guessing it opens a new case."""
    case = make_case(db, email="owner@example.cn").case
    subject = f"关于{case.tracking_number}的补充"
    assert _receive(db, _mail(sender="owner@example.cn", subject=subject))[:2] == (
        "follow_up",
        case.tracking_number,
    )
    outcome, number, _ = _receive(db, _mail(sender="stranger@example.cn", subject=subject))
    assert outcome == "case" and number != case.tracking_number


def test_machines_get_no_case_and_no_answer(db, demo):
    """Auto-replies and bounces create no case and put nothing in the outbox."""
    assert (
        _receive(db, _mail(subject="自动回复：休假中", Auto_Submitted="auto-replied"))[0]
        == "auto_reply"
    )
    assert _count(db, Case) == 0 and _count(db, OutboxEmail) == 0


def test_bounce_marks_the_mail_it_reports_on(db, demo):
    """A delivery report naming our acknowledgement marks that outbox row bounced."""
    case = make_case(db, email="gone@example.cn").case
    with db.session() as session:
        our_id = session.scalar(
            select(OutboxEmail.message_id).where(OutboxEmail.case_id == case.id)
        )
    report = EmailMessage()
    report["From"], report["Subject"] = (
        "MAILER-DAEMON@example.cn",
        "Undelivered Mail Returned to Sender",
    )
    report.set_content("The mail could not be delivered.")
    original = EmailMessage()
    original["Message-ID"], original["Subject"] = our_id, "已收到您的留言"
    original.set_content("…")
    report.add_attachment(original)
    assert _receive(db, report.as_bytes())[0] == "bounce"
    with db.session() as session:
        row = session.scalar(select(OutboxEmail).where(OutboxEmail.message_id == our_id))
        assert row.bounced_at is not None and "bounced" in row.last_error


def test_same_mail_twice_is_stored_once(db, demo):
    """The same bytes, or the same Message-ID from the same sender, are one mail."""
    raw = _mail(Message_ID="<once@example.cn>")
    first, second = _receive(db, raw), _receive(db, raw)
    assert second == (first[0], first[1], True)
    resent = _mail(Message_ID="<once@example.cn>", X_Relay="other route")
    assert _receive(db, resent)[2] is True
    assert _count(db, InboundMail) == 1 and _count(db, Case) == 1


def test_raw_mail_is_kept_exactly(db, demo):
    """The stored bytes are the bytes received."""
    from shared.models import StoredBlob

    raw = _mail(body="原样保存")
    _receive(db, raw)
    with db.session() as session:
        record = session.scalar(select(InboundMail))
        assert session.get(StoredBlob, record.blob_sha256).data == raw


def test_accepted_recipients(db, demo):
    """The intake address and live reply addresses are ours; anything else is not."""
    case = make_case(db).case
    with db.session() as session:
        assert accepts_recipient(session, "Feedback@Minyi.test", MAIL_SETTINGS)
        assert accepts_recipient(session, f"reply+{case.reply_token}@MINYI.TEST", MAIL_SETTINGS)
        assert not accepts_recipient(session, "reply+nosuchtoken@minyi.test", MAIL_SETTINGS)
        assert not accepts_recipient(session, "someone@minyi.test", MAIL_SETTINGS)
