"""The torture corpus: 48 real-world and deliberately broken mails (mailgun/flanker's test
fixtures) must each be imported without a crash, kept byte for byte, and end as what a person
reading them would call them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import func, select

from intake.inbound.files import import_paths
from shared.config import load_settings
from shared.models import (
    Attachment,
    Case,
    InboundMail,
    MailOutcome,
    Message,
    OutboxEmail,
    StoredBlob,
)
from tests.conftest import require
from tests.factories import SETTINGS

#: In CI a copy of shared/ sits beside the clone.
CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "torture"

BOUNCE = {"bounce"}
AUTO_REPLY = {"auto_reply"}
#: Reports written by machines that are neither a bounce nor an auto-reply (abuse feedback
#: reports): whichever of the two they are filed as, they must not become a case.
MACHINE = {"auto_reply", "bounce"}
CASE = {"case"}
#: Broken beyond what a careful reader can be sure of: a case, or kept aside with a reason.
BROKEN = {"case", "quarantined"}

EXPECTED: dict[str, set[str]] = {
    # Delivery status notifications: DSNs, and Gmail's, AOL's and Office 365's bounce texts.
    "bounce_broken-mime.eml": BOUNCE,  # text/plain from Postmaster, "Undeliverable Mail"
    "bounce_delayed-broken.eml": BOUNCE,  # a bare message/delivery-status, Action: failed
    "bounce_delayed.eml": BOUNCE,
    "bounce_gmail-invalid-address.eml": BOUNCE,
    "bounce_gmail-no-dns.eml": BOUNCE,
    "bounce_mailbox-full.eml": BOUNCE,
    "bounce_no-mx.eml": BOUNCE,
    "bounce_office365.eml": BOUNCE,
    "bounce_zed.eml": BOUNCE,
    # Mailing-list mail (Precedence: bulk/list): an auto-reply in DESIGN.md's words.
    "apache-message-news-mime.eml": AUTO_REPLY,
    "from-encoding.eml": AUTO_REPLY,
    "message-external-body.eml": AUTO_REPLY,
    # A read receipt (multipart/report; report-type=disposition-notification).
    "disposition-notification.eml": AUTO_REPLY,
    # Abuse feedback reports (multipart/report; report-type=feedback-report).
    "complaints_aol.eml": MACHINE,
    "complaints_yahoo.eml": MACHINE,
    # A person wrote these, in well-formed (if unusual) MIME.
    "8bitmime.eml": CASE,
    "bilingual-simple.eml": CASE,
    "bz2-attachment.eml": CASE,
    "dashed-boundaries.eml": CASE,
    "enclosed.eml": CASE,
    "enclosed-global.eml": CASE,
    "encoded-header.eml": CASE,
    "iphone.eml": CASE,
    "long-header.eml": CASE,
    "long-links.eml": CASE,
    "mailgun-pic.eml": CASE,
    "missing-final-boundary.eml": CASE,
    "multi-received-headers.eml": CASE,
    "multipart.eml": CASE,
    "no-ctype.eml": CASE,
    "quoted-printable.eml": CASE,
    "relative.eml": CASE,
    "russian-attachment-yahoo.eml": CASE,
    "signed.eml": CASE,
    "text-only.eml": CASE,
    "torture.eml": CASE,
    "torture-part.eml": CASE,
    # Broken MIME, broken headers, no sender, spam.
    "attached-pdf.eml": BROKEN,  # no From: nobody to answer
    "enclosed-bad-encoding.eml": BROKEN,
    "enclosed-broken-body.eml": BROKEN,
    "enclosed-broken.eml": BROKEN,
    "enclosed-endless.eml": BROKEN,
    "false-multipart.eml": BROKEN,
    "mailformed-headers.eml": BROKEN,
    "missing-boundaries.eml": BROKEN,
    "outlook-express.eml": BROKEN,
    "spam_broken-ctype.eml": BROKEN,
    "spam_broken-headers.eml": BROKEN,
}

#: What staff must see of some of the cases: subject, sender name, words in the body.
SEEN: dict[str, dict] = {
    "text-only.eml": {
        "subject": "Testing message parsing",
        "name": "Bob Marley",
        "text": "I'm just testing message parsing",
    },
    "no-ctype.eml": {"subject": "Testing message parsing", "text": "testing message parsing"},
    "encoded-header.eml": {
        "name": "Foo, Bar",
        "email": "foo.bar@example.com",
        "text": "hello, world",
    },
    "bilingual-simple.eml": {"subject": "Simple text. How are you? Как ты поживаешь?"},
    "8bitmime.eml": {"text": "Превел"},
    "long-header.eml": {"subject_starts": "Die heiße Zypernsonne quälte Max und Victoria"},
    "long-links.eml": {"text": "THis is very long url"},
    "relative.eml": {"text": "This is html and text message, thanks"},
    "multipart.eml": {"text": "Sasha"},
    "dashed-boundaries.eml": {"text": "Hi"},
    "enclosed.eml": {"text_starts": "Hello"},
    "bz2-attachment.eml": {"text": "hello, world"},
    "iphone.eml": {"files": [("photo.JPG", "image/jpeg")]},
    "mailgun-pic.eml": {"files": [("mailgun.png", "image/png")]},
    "russian-attachment-yahoo.eml": {
        # The name arrives as raw 8-bit UTF-8, cut off by Yahoo in the middle of a letter.
        "files_start": [("Картинка с очень, очень длинным предлинным именем", "image/png")],
    },
}

#: Where the parser does not do what a person expects; each is reported to its author.
KNOWN_WRONG: dict[str, str] = {}

FILES = sorted(EXPECTED)


def _param(name: str):
    marks = (
        [pytest.mark.xfail(strict=True, reason=KNOWN_WRONG[name])] if name in KNOWN_WRONG else []
    )
    return pytest.param(name, id=name.removesuffix(".eml"), marks=marks)


@pytest.fixture
def mail_settings(settings) -> dict:
    return load_settings({**settings, **SETTINGS, "INTAKE_ADDRESS": "feedback@minyi.test"})


def _corpus_file(name: str) -> Path:
    require(CORPUS.is_dir(), f"the torture corpus is not at {CORPUS}")
    return CORPUS / name


def test_every_corpus_file_has_an_expectation():
    """A mail added to the corpus needs a line in EXPECTED before it counts as tested."""
    require(CORPUS.is_dir(), f"the torture corpus is not at {CORPUS}")
    assert sorted(path.name for path in CORPUS.glob("*.eml")) == FILES
    assert len(FILES) == 48


@pytest.mark.parametrize("name", [_param(name) for name in FILES])
def test_corpus_mail_is_kept_and_classified(db, demo, mail_settings, name):
    """The mail imports without an error, its bytes are stored exactly, and it ends as what a
    person reading it would expect; a quarantined one says why; machines get no answer."""
    path = _corpus_file(name)
    raw = path.read_bytes()

    report = import_paths(db, mail_settings, [path])

    assert report.errors == [] and report.duplicates == 0
    with db.session() as session:
        [inbound] = session.scalars(select(InboundMail)).all()
        assert inbound.sha256 == hashlib.sha256(raw).hexdigest()
        assert session.get(StoredBlob, inbound.blob_sha256).data == raw
        outbox = session.scalar(select(func.count()).select_from(OutboxEmail))
    assert inbound.outcome in MailOutcome.ALL
    assert report.outcomes == {inbound.outcome: 1}
    if inbound.outcome == MailOutcome.QUARANTINED:
        assert inbound.reason and inbound.reason.strip()
    assert inbound.outcome in EXPECTED[name], (inbound.outcome, inbound.reason)
    if inbound.outcome in (MailOutcome.BOUNCE, MailOutcome.AUTO_REPLY):
        assert inbound.case_id is None and outbox == 0
    if inbound.outcome == MailOutcome.CASE:
        _check_seen(db, inbound, SEEN.get(name, {}))


def _check_seen(db, inbound: InboundMail, seen: dict) -> None:
    with db.session() as session:
        case = session.get(Case, inbound.case_id)
        first = session.scalar(
            select(Message).where(Message.case_id == case.id).order_by(Message.id).limit(1)
        )
        files = [
            (a.filename, a.content_type)
            for a in session.scalars(
                select(Attachment).where(Attachment.message_id == first.id).order_by(Attachment.id)
            )
        ]
    assert case.body.strip() and first.body.strip()
    if "subject" in seen:
        assert case.subject == seen["subject"]
    if "subject_starts" in seen:
        assert case.subject.startswith(seen["subject_starts"])
    if "name" in seen:
        assert case.submitter_name == seen["name"]
    if "email" in seen:
        assert case.submitter_email == seen["email"]
    if "text" in seen:
        assert seen["text"] in case.body and seen["text"] in first.body
    if "text_starts" in seen:
        assert case.body.startswith(seen["text_starts"])
    if "files" in seen:
        assert files == seen["files"]
    if "files_start" in seen:
        assert len(files) == len(seen["files_start"])
        for (filename, kind), (start, expected_kind) in zip(
            files, seen["files_start"], strict=True
        ):
            assert filename.startswith(start) and kind == expected_kind, filename


def test_whole_corpus_in_one_import(db, demo, mail_settings):
    """The whole folder in one run: nothing fails, every mail is stored or found stored."""
    require(CORPUS.is_dir(), f"the torture corpus is not at {CORPUS}")

    report = import_paths(db, mail_settings, [CORPUS])

    assert report.errors == []
    # Two pairs are one mail each (same Message-ID, sender, subject, text and files):
    # enclosed.eml / enclosed-broken.eml and text-only.eml / no-ctype.eml. Mails that only
    # share a Message-ID (the other enclosed-*.eml) are all kept.
    assert (report.stored, report.duplicates) == (46, 2)
    with db.session() as session:
        stored = session.scalar(select(func.count()).select_from(InboundMail))
    assert stored == report.stored
