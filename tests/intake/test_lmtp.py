"""The LMTP receiver: a real server on loopback, spoken to with smtplib's LMTP client."""

from __future__ import annotations

import asyncio
import email.policy
import email.utils
import logging
import os
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from intake.inbound import lmtp
from shared import cli
from shared.config import load_settings
from shared.db import Database
from shared.models import Case, InboundMail, OutboxEmail
from tests.factories import make_case
from tests.mailservers import free_port

MINYI = str(Path(sys.executable).with_name("minyi"))
INTAKE = "feedback@minyi.test"
DOMAIN = "minyi.test"  # the REPLY_DOMAIN of tests.factories.SETTINGS too
CITIZEN = "zhangsan@example.cn"


class ReceiverThread:
    """:func:`intake.inbound.lmtp.run`, as ``minyi lmtp`` runs it, in a thread of its own."""

    def __init__(self, database: Database, settings: dict) -> None:
        self.database, self.settings = database, settings
        self.port = 0
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> ReceiverThread:
        self._thread.start()
        assert self._ready.wait(10), "the LMTP receiver did not start"
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stopping.set)
            self._thread.join(30)
            assert not self._thread.is_alive(), "the LMTP receiver did not stop"

    def client(self) -> smtplib.LMTP:
        return smtplib.LMTP("127.0.0.1", self.port, local_hostname="mx.test", timeout=10)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:
            self._error = error
            self._ready.set()

    async def _main(self) -> None:
        self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
        await lmtp.run(
            self.database,
            self.settings,
            "127.0.0.1",
            0,
            self._stopping,
            listening=self._listening,
            grace=5,
        )

    def _listening(self, port: int) -> None:
        self.port = port
        self._ready.set()


def receiver_settings(tmp_path: Path, **overrides) -> dict:
    return load_settings(
        {
            "SECRET_KEY": "test-secret-key",
            "VAR_DIR": str(tmp_path / "var"),
            "INTAKE_ADDRESS": INTAKE,
            "REPLY_DOMAIN": DOMAIN,
            "PUBLIC_BASE_URL": "http://intake.test",
            "MAIL_DEFAULT_SENDER": "通渭县委宣传部 <noreply@minyi.test>",
            **overrides,
        }
    )


@pytest.fixture
def start_receiver(db, demo, tmp_path):
    """Starts a receiver (over the test database unless told otherwise); all are stopped after
    the test."""
    started: list[ReceiverThread] = []

    def start(database: Database | None = None, **settings) -> ReceiverThread:
        receiver = ReceiverThread(database or db, receiver_settings(tmp_path, **settings))
        started.append(receiver.start())
        return receiver

    yield start
    for receiver in started:
        receiver.stop()


class Commits:
    """A Database of its own for the receiver, whose commits a test can fail or hold."""

    def __init__(self, database_url: str) -> None:
        self.database = Database(database_url)
        self.failures = 0
        self.released = threading.Event()
        self.released.set()
        self.waiting = threading.Event()
        event.listen(self.database.session_factory, "before_commit", self._before_commit)

    def hold(self) -> None:
        self.released.clear()

    def _before_commit(self, _session) -> None:
        if self.failures:
            self.failures -= 1
            raise OperationalError("COMMIT", None, Exception("could not write to the database"))
        if not self.released.is_set():
            self.waiting.set()
            self.released.wait(20)


@pytest.fixture
def commits(database_url):
    commits = Commits(database_url)
    yield commits
    commits.released.set()
    commits.database.dispose()


def citizen_mail(
    body: str = "村口的三盏路灯坏了三个月，晚上路过很危险，请尽快修理。",
    *,
    subject: str = "路灯坏了",
    to: str = INTAKE,
    sender: str = f"张三 <{CITIZEN}>",
    **headers: str,
) -> bytes:
    """A plain UTF-8 mail, 8-bit, as a Chinese webmail sends it."""
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = email.utils.formatdate()
    message["Message-ID"] = email.utils.make_msgid(domain="example.cn")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body, cte="8bit")
    return message.as_bytes()


@dataclass
class Transaction:
    """What the receiver answered: per RCPT, and per accepted recipient after the data."""

    rcpt: list[tuple[int, bytes]]
    data: list[tuple[int, bytes]] = field(default_factory=list)


def send(
    receiver: ReceiverThread,
    raw: bytes,
    *,
    sender: str = CITIZEN,
    recipients: tuple[str, ...] = (INTAKE,),
    client: smtplib.LMTP | None = None,
) -> Transaction:
    """One LMTP transaction, read as RFC 2033 has it. (smtplib's ``sendmail`` reads one answer
    to DATA, however many recipients: right for SMTP, out of step for LMTP.)"""
    own = client is None
    client = client or receiver.client()
    try:
        client.ehlo_or_helo_if_needed()
        code, _ = client.mail(sender)
        assert code == 250
        done = Transaction([client.rcpt(recipient) for recipient in recipients])
        accepted = sum(code == 250 for code, _ in done.rcpt)
        if accepted:
            done.data.append(client.data(raw))
            done.data += [client.getreply() for _ in range(accepted - 1)]
        assert client.noop()[0] == 250, "the conversation is out of step"
        return done
    finally:
        if own:
            client.quit()


def count(db: Database, model) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def inbound_mails(db: Database) -> list[InboundMail]:
    with db.session() as session:
        return list(session.scalars(select(InboundMail).order_by(InboundMail.id)))


def test_plain_mail_to_the_intake_address_becomes_an_email_case(db, start_receiver):
    """250 after the commit; the raw mail, a case on the email channel and its receipt mail."""
    receiver = start_receiver()
    raw = citizen_mail()
    answer = send(receiver, raw)
    assert answer.rcpt == [(250, b"2.1.5 OK")]
    [(code, text)] = answer.data
    [stored] = inbound_mails(db)
    assert (code, text) == (250, f"2.0.0 OK: queued as {stored.id}".encode())
    assert (stored.source, stored.outcome) == ("lmtp", "case")
    assert (stored.envelope_from, stored.envelope_to) == (CITIZEN, INTAKE)
    with db.session() as session:
        case = session.get(Case, stored.case_id)
        assert case.channel == "email"
        assert case.submitter_email == CITIZEN
        assert "路灯坏了三个月" in case.body
        [receipt] = session.scalars(select(OutboxEmail).where(OutboxEmail.case_id == case.id))
        assert CITIZEN in receipt.to_addr and case.tracking_number in receipt.subject
        assert receipt.headers["Reply-To"] == f"reply+{case.reply_token}@{DOMAIN}"


def test_lhlo_advertises_size_and_larger_mail_gets_552(db, start_receiver):
    """SIZE is announced; too large is refused at MAIL FROM (declared) or after DATA, where
    each recipient gets the 552."""
    case = make_case(db, email=CITIZEN).case
    receiver = start_receiver(MAX_MESSAGE_BYTES=10_000)
    big = citizen_mail("请公开整改台账。\n" * 1000)  # 25,000 bytes of text
    with receiver.client() as client:
        code, _ = client.ehlo()  # smtplib's LMTP sends LHLO
        assert code == 250 and client.esmtp_features["size"] == "10000"
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail(CITIZEN, [INTAKE], big)  # declares SIZE=24xxx
        assert refused.value.smtp_code == 552
    # Without SIZE the server counts while it reads.
    answer = send(receiver, big, recipients=(INTAKE, f"reply+{case.reply_token}@{DOMAIN}"))
    assert answer.data == [(552, b"Error: Too much mail data")] * 2
    assert count(db, InboundMail) == 0


def test_unknown_recipient_is_refused_at_rcpt(db, start_receiver):
    """Not our address, or a reply address with no case behind it: 550 5.1.1, nothing stored."""
    receiver = start_receiver()
    unknown = ["nobody@minyi.test", f"reply+nosuchtoken@{DOMAIN}", "feedback@elsewhere.cn"]
    with receiver.client() as client, pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        client.sendmail(CITIZEN, unknown, citizen_mail())
    assert refused.value.recipients == {
        address: (550, b"5.1.1 No such user here") for address in unknown
    }
    assert count(db, InboundMail) == 0


def test_mixed_recipients_deliver_once_for_the_accepted_one(db, start_receiver):
    """One of ours, one not: 550 for the stranger, one answer to DATA, one mail stored."""
    receiver = start_receiver()
    answer = send(receiver, citizen_mail(), recipients=("nobody@minyi.test", INTAKE))
    assert [code for code, _ in answer.rcpt] == [550, 250]
    assert [code for code, _ in answer.data] == [250]
    [stored] = inbound_mails(db)
    assert stored.envelope_to == INTAKE
    assert count(db, Case) == 1


def test_every_accepted_recipient_gets_its_own_answer_to_data(db, start_receiver):
    """Two of our addresses: two 250 lines after DATA (RFC 2033), the mail stored once."""
    case = make_case(db, email=CITIZEN).case
    reply_address = f"reply+{case.reply_token}@{DOMAIN}"
    receiver = start_receiver()
    answer = send(receiver, citizen_mail("补充一点情况。"), recipients=(INTAKE, reply_address))
    [stored] = inbound_mails(db)
    expected = (250, f"2.0.0 OK: queued as {stored.id}".encode())
    assert answer.data == [expected, expected]
    assert (stored.outcome, stored.case_id) == ("follow_up", case.id)


def test_database_failing_at_commit_gives_451_and_the_retry_stores_once(
    db, start_receiver, commits, caplog
):
    """451 to every recipient when the commit fails, nothing kept; the MTA's retry is stored
    once, and a retry after that is recognised. The log names the error, not the mail."""
    case = make_case(db, email=CITIZEN).case
    recipients = (INTAKE, f"reply+{case.reply_token}@{DOMAIN}")
    receiver = start_receiver(commits.database)
    raw = citizen_mail("我的电话是13800138000，请回电。")
    commits.failures = 1
    caplog.set_level(logging.INFO, logger="intake.inbound.lmtp")
    before = count(db, OutboxEmail)

    failed = send(receiver, raw, recipients=recipients)
    local_error = (451, b"4.3.0 Requested action aborted: local error in processing")
    assert failed.data == [local_error, local_error]
    assert count(db, InboundMail) == 0
    assert count(db, OutboxEmail) == before

    retried = send(receiver, raw, recipients=recipients)
    again = send(receiver, raw, recipients=recipients)
    [stored] = inbound_mails(db)
    assert [code for code, _ in retried.data] == [250, 250]
    assert again.data[0] == (250, f"2.0.0 OK: already queued as {stored.id}".encode())
    assert count(db, Case) == 1  # the case made above, followed up once

    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "intake.inbound.lmtp")
    assert "OperationalError" in logged and f"{len(raw)} bytes" in logged
    assert CITIZEN not in logged and "13800138000" not in logged and "reply+" not in logged


def test_database_down_gives_451_at_rcpt_or_after_data(db, start_receiver):
    """With the database unreachable, nothing is refused for good and nothing accepted: a reply
    address cannot be checked (451 at RCPT); the intake address needs no lookup, but the mail
    cannot be stored (451 after DATA)."""
    down = Database(f"postgresql://minyi@127.0.0.1:{free_port()}/minyi")  # nobody listens
    try:
        receiver = start_receiver(down)
        answer = send(receiver, citizen_mail(), recipients=(f"reply+{'a' * 16}@{DOMAIN}", INTAKE))
    finally:
        down.dispose()
    assert answer.rcpt == [(451, b"4.3.0 Temporary failure, try again later"), (250, b"2.1.5 OK")]
    assert answer.data == [(451, b"4.3.0 Requested action aborted: local error in processing")]
    assert count(db, InboundMail) == 0


def test_same_mail_delivered_twice_is_stored_once(db, start_receiver):
    """An MTA that lost our 250 sends the mail again: 250 again, nothing new written."""
    receiver = start_receiver()
    raw = citizen_mail()
    first = send(receiver, raw)
    second = send(receiver, raw)
    [stored] = inbound_mails(db)
    assert first.data == [(250, f"2.0.0 OK: queued as {stored.id}".encode())]
    assert second.data == [(250, f"2.0.0 OK: already queued as {stored.id}".encode())]
    assert (count(db, Case), count(db, OutboxEmail)) == (1, 1)


def test_reply_to_the_acknowledgement_is_a_follow_up(db, start_receiver):
    """The citizen answers the receipt mail: accepted at its reply address, added to the case."""
    receiver = start_receiver()
    send(receiver, citizen_mail())
    with db.session() as session:
        receipt = session.scalar(select(OutboxEmail))
        case = session.get(Case, receipt.case_id)
    reply = citizen_mail(
        "补充：坏的是村委会门口那三盏。\n\n> 您的留言已收到",
        subject=f"Re: {receipt.subject}",
        to=receipt.headers["Reply-To"],
        In_Reply_To=receipt.message_id,
        References=receipt.message_id,
    )
    answer = send(receiver, reply, recipients=(receipt.headers["Reply-To"],))
    assert [code for code, _ in answer.data] == [250]
    _first, follow_up = inbound_mails(db)
    assert (follow_up.outcome, follow_up.case_id) == ("follow_up", case.id)
    assert count(db, Case) == 1


def test_null_sender_is_stored_and_answered_by_nobody(db, start_receiver):
    """MAIL FROM:<> (a bounce or auto-reply): 250, kept, but no case and no mail back."""
    receiver = start_receiver()
    answer = send(receiver, citizen_mail(subject="自动回复：路灯坏了"), sender="")
    assert [code for code, _ in answer.data] == [250]
    [stored] = inbound_mails(db)
    assert stored.outcome in ("auto_reply", "bounce")
    assert (count(db, Case), count(db, OutboxEmail)) == (0, 0)


def test_other_connections_are_served_while_a_mail_is_stored(start_receiver, commits):
    """Storing runs off the event loop: a second client is answered while a commit waits."""
    receiver = start_receiver(commits.database)
    commits.hold()
    answers: list[Transaction] = []
    sender = threading.Thread(target=lambda: answers.append(send(receiver, citizen_mail())))
    sender.start()
    assert commits.waiting.wait(10)
    with receiver.client() as other:
        assert other.ehlo()[0] == 250 and other.noop()[0] == 250
    commits.released.set()
    sender.join(10)
    assert [code for code, _ in answers[0].data] == [250]


def test_stopping_lets_the_mail_being_stored_finish(db, start_receiver, commits):
    """On stop: no new connections, idle ones get 421, the mail in hand is stored and gets 250."""
    receiver = start_receiver(commits.database)
    answers: list[tuple[int, bytes]] = []
    with receiver.client() as idle, receiver.client() as busy:
        idle.ehlo()
        busy.ehlo()
        busy.mail(CITIZEN)
        busy.rcpt(INTAKE)
        commits.hold()
        sender = threading.Thread(target=lambda: answers.append(busy.data(citizen_mail())))
        sender.start()
        assert commits.waiting.wait(10)
        stopper = threading.Thread(target=receiver.stop)
        stopper.start()
        assert idle.noop()[0] == 421
        deadline = time.monotonic() + 5
        while True:  # the listening socket closes as soon as the stop is asked for
            try:
                socket.create_connection(("127.0.0.1", receiver.port), timeout=1).close()
            except ConnectionRefusedError:
                break
            assert time.monotonic() < deadline, "still taking connections"
            time.sleep(0.05)
        commits.released.set()
        sender.join(10)
        stopper.join(10)
        assert busy.noop()[0] == 421
    [stored] = inbound_mails(db)
    assert answers == [(250, f"2.0.0 OK: queued as {stored.id}".encode())]


def test_minyi_lmtp_serves_and_stops_cleanly_on_sigterm(db, demo, database_url, tmp_path):
    """``minyi lmtp --port P`` stores mail, keeps addresses out of its log, and exits 0."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "cli-test",
           "INTAKE_ADDRESS": INTAKE, "REPLY_DOMAIN": DOMAIN}  # fmt: skip
    log_path = tmp_path / "lmtp.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [MINYI, "lmtp", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.1)
        with smtplib.LMTP("127.0.0.1", port, local_hostname="mx.test", timeout=10) as client:
            assert client.sendmail(CITIZEN, [INTAKE], citizen_mail()) == {}
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log_path.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    [stored] = inbound_mails(db)
    assert stored.outcome == "case"
    output = log_path.read_text()
    assert f"mail {stored.id} stored (case)" in output
    assert CITIZEN not in output and INTAKE not in output


def test_minyi_run_starts_the_lmtp_receiver():
    """``minyi run`` starts ``minyi lmtp`` beside the web services and the worker."""
    services = dict(cli._services("127.0.0.1", {"intake": 8000, "responder": 8001}))
    assert services["lmtp"] == ["shared.cli", "lmtp"]
