"""Importing mail from files (``minyi import-mail``), and what staff see of Chinese mail.

Mail comes in every charset and shape Chinese clients produce; the staff must see the right
subject, text, sender and file names, both in the database and through the staff API.
"""

from __future__ import annotations

import hashlib
import mailbox
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from intake.inbound.files import ImportReport, import_paths
from shared.config import load_settings
from shared.models import Attachment, Case, InboundMail, Message, OutboxEmail, StoredBlob
from tests import mailfactory as mf
from tests.factories import SETTINGS, make_case, make_token

MINYI = str(Path(sys.executable).with_name("minyi"))


@pytest.fixture
def mail_settings(settings) -> dict:
    """The full service settings (as the command line has them), pointing at the test
    database, with the intake address the test mails are written to."""
    return load_settings({**settings, **SETTINGS, "INTAKE_ADDRESS": mf.INTAKE_ADDRESS})


def _count(db, model) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def _write(folder: Path, mails: dict[str, bytes]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, raw in mails.items():
        (folder / name).write_bytes(raw)
        paths.append(folder / name)
    return paths


def _three_mails() -> list[bytes]:
    return [
        mf.plain_mail(sender="a@example.cn"),
        mf.gb2312_labelled_gbk_mail(sender="b@example.cn"),
        mf.mail_with_attachments(
            "照片见附件。",
            [("现场照片.png", mf.png_bytes())],
            style="foxmail",
            sender="c@example.cn",
        ),
    ]


# -- finding and importing ----------------------------------------------------------------


def test_folder_of_eml_files_becomes_one_case_per_mail(db, demo, mail_settings, tmp_path):
    """Every .eml in the folder and its sub-folders is a case; other files are left alone."""
    one, two, three = _three_mails()
    _write(tmp_path / "mail", {"1.eml": one, "2.EML": two, "readme.txt": b"not mail"})
    _write(tmp_path / "mail" / "2026-03", {"3.eml": three})

    report = import_paths(db, mail_settings, [tmp_path / "mail"])

    assert report.errors == [] and report.ok
    assert report.outcomes == {"case": 3} and report.duplicates == 0
    assert _count(db, Case) == 3
    with db.session() as session:
        stored = session.scalars(select(InboundMail)).all()
        assert {mail.source for mail in stored} == {"file"}
        blobs = {session.get(StoredBlob, mail.blob_sha256).data for mail in stored}
    assert blobs == {one, two, three}


def test_maildir_with_subfolders_is_imported(db, demo, mail_settings, tmp_path):
    """A Maildir (cur/new/tmp), including a Maildir++ sub-folder, is read mail by mail."""
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    one, two, three = _three_mails()
    box.add(one)
    box.add(two)
    box.add_folder("Archive").add(three)
    box.close()

    report = import_paths(db, mail_settings, [str(tmp_path / "Maildir")])

    assert report.errors == []
    assert report.outcomes == {"case": 3}
    with db.session() as session:
        digests = set(session.scalars(select(InboundMail.sha256)))
    assert digests == {hashlib.sha256(raw).hexdigest() for raw in (one, two, three)}


def test_mbox_file_is_imported(db, demo, mail_settings, tmp_path):
    """An mbox file (any name) holds several mails, each imported."""
    path = tmp_path / "exported-from-thunderbird"
    box = mailbox.mbox(path, create=True)
    for raw in _three_mails():
        box.add(raw)
    box.flush()
    box.close()

    report = import_paths(db, mail_settings, [path])

    assert report.errors == []
    assert report.outcomes == {"case": 3}
    with db.session() as session:
        subjects = sorted(session.scalars(select(Case.subject)))
    assert subjects == [
        "关于巡察整改通报的意见",
        "关于巡察整改通报的意见",
        "王镕反映网站留言无人回复",
    ]


def test_importing_the_same_files_twice_stores_nothing_twice(db, demo, mail_settings, tmp_path):
    """The second import finds every mail stored already: no case, mail or outbox row more."""
    one, two, three = _three_mails()
    _write(tmp_path / "mail", {"1.eml": one, "2.eml": two, "3.eml": three})
    first = import_paths(db, mail_settings, [tmp_path / "mail"])
    counts = [_count(db, model) for model in (Case, InboundMail, OutboxEmail, Attachment)]

    again = import_paths(db, mail_settings, [tmp_path / "mail", tmp_path / "mail" / "2.eml"])

    assert first.outcomes == {"case": 3}
    assert again.outcomes == {} and again.duplicates == 4 and again.ok
    assert [_count(db, model) for model in (Case, InboundMail, OutboxEmail, Attachment)] == counts


def test_unreadable_mail_is_reported_and_the_rest_imported(db, demo, mail_settings, tmp_path):
    """A path that does not exist and a file that cannot be read are errors with their names;
    every other mail is still imported."""
    folder = tmp_path / "mail"
    _write(folder, {"good.eml": mf.plain_mail()})
    (folder / "gone.eml").symlink_to(tmp_path / "nowhere.eml")  # listed, but not readable
    missing = tmp_path / "no-such-folder"

    report = import_paths(db, mail_settings, [missing, folder])

    assert report.outcomes == {"case": 1}
    assert not report.ok
    assert sorted(where for where, _ in report.errors) == [
        str(folder / "gone.eml"),
        str(missing),
    ]
    assert _count(db, Case) == 1


def test_one_failing_mail_does_not_stop_the_import(db, demo, mail_settings, tmp_path, monkeypatch):
    """If storing one mail fails (here: the database refuses it), that mail is an error,
    nothing of it is half-stored, and the next mail is imported."""
    from intake.inbound import files

    real = files.receive_mail
    poisoned = mf.plain_mail("这封信让数据库出错。")

    def receive(session, raw, **options):
        result = real(session, raw, **options)
        if raw == poisoned:
            raise RuntimeError("database went away")
        return result

    monkeypatch.setattr(files, "receive_mail", receive)
    _write(tmp_path / "mail", {"1.eml": poisoned, "2.eml": mf.plain_mail()})

    report = import_paths(db, mail_settings, [tmp_path / "mail"])

    assert report.outcomes == {"case": 1}
    assert report.errors == [(str(tmp_path / "mail" / "1.eml"), "RuntimeError: database went away")]
    assert _count(db, InboundMail) == _count(db, Case) == 1  # the failed one was rolled back


def test_progress_is_told_the_total_first(db, demo, mail_settings, tmp_path):
    """The progress callback hears (0, total) before the first mail, then each step."""
    _write(tmp_path / "mail", {f"{i}.eml": raw for i, raw in enumerate(_three_mails())})
    steps = []
    import_paths(db, mail_settings, [tmp_path / "mail"], progress=lambda *step: steps.append(step))
    assert steps == [(0, 3), (1, 3), (2, 3), (3, 3)]


def test_report_summary_counts_everything():
    """The summary line names each outcome, the duplicates and the errors."""
    report = ImportReport()
    report.outcomes.update({"case": 2, "bounce": 1})
    report.duplicates = 3
    report.errors.append(("x.eml", "Permission denied"))
    assert report.summary() == "7 mails: 3 stored (bounce 1, case 2), 3 already stored, 1 errors"


def _minyi(*args: str, database_url: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "cli-test",
        "INTAKE_ADDRESS": mf.INTAKE_ADDRESS,
        "REPLY_DOMAIN": "minyi.test",
    }
    return subprocess.run(
        [MINYI, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )


def test_cli_imports_prints_summary_and_exits_0(db, demo, database_url, tmp_path):
    """`minyi import-mail` imports a folder and an mbox, prints what happened, exits 0; run
    again it stores nothing and still exits 0."""
    one, two, three = _three_mails()
    _write(tmp_path / "mail", {"1.eml": one, "2.eml": two})
    box = mailbox.mbox(tmp_path / "old.mbox", create=True)
    box.add(three)
    box.close()

    first = _minyi("import-mail", "mail", "old.mbox", database_url=database_url, cwd=tmp_path)
    again = _minyi("import-mail", "mail", "old.mbox", database_url=database_url, cwd=tmp_path)

    assert first.returncode == 0, first.stderr
    assert "3 mails: 3 stored (case 3), 0 already stored, 0 errors" in first.stdout
    assert again.returncode == 0, again.stderr
    assert "3 mails: 0 stored (none), 3 already stored, 0 errors" in again.stdout
    assert _count(db, Case) == 3


def test_cli_exits_1_and_names_what_it_could_not_import(db, demo, database_url, tmp_path):
    """A missing path makes the exit code 1; the error names it; the rest is imported."""
    _write(tmp_path / "mail", {"1.eml": mf.plain_mail()})

    result = _minyi("import-mail", "mail", "missing.eml", database_url=database_url, cwd=tmp_path)

    assert result.returncode == 1
    assert "missing.eml" in result.stderr and "Traceback" not in result.stderr
    assert "2 mails: 1 stored (case 1), 0 already stored, 1 errors" in result.stdout
    assert _count(db, Case) == 1


# -- what staff see of Chinese mail -------------------------------------------------------


def _import_one(db, settings, tmp_path, raw: bytes) -> InboundMail:
    path = tmp_path / "one.eml"
    path.write_bytes(raw)
    report = import_paths(db, settings, [path])
    assert report.errors == [], report.errors
    with db.session() as session:
        return session.scalar(select(InboundMail).where(InboundMail.sha256 == _sha(raw)))


def _sha(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _case_seen_by_staff(db, client, inbound: InboundMail) -> tuple[Case, Message, dict]:
    """The case in the database (with its first message) and as the staff API shows it."""
    assert inbound.outcome == "case", (inbound.outcome, inbound.reason)
    with db.session() as session:
        case = session.get(Case, inbound.case_id)
        first = session.scalar(
            select(Message).where(Message.case_id == case.id).order_by(Message.id).limit(1)
        )
        first.attachments  # noqa: B018  (loaded while the session is open)
    token = make_token(db, "admin1", "admin")
    response = client.get(
        f"/api/v1/cases/{case.tracking_number}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    return case, first, response.json


_GBK_SUBJECT = "王镕反映网站留言无人回复"

DECODING = [
    # (id, mail, subject, sender name, text the body must hold)
    ("utf8-base64", mf.plain_mail(), "关于巡察整改通报的意见", "张三", mf.UTF8_TEXT),
    ("utf8-qp", mf.plain_mail(transfer="quoted-printable"), "关于巡察整改通报的意见", "张三",
     mf.UTF8_TEXT),
    ("utf8-8bit", mf.plain_mail(transfer="8bit"), "关于巡察整改通报的意见", "张三", mf.UTF8_TEXT),
    ("ascii-7bit", mf.ascii_mail(), "Inspection report", "John Smith",
     "Please publish the inspection report in English too."),
    ("gb2312-label-gbk-base64", mf.gb2312_labelled_gbk_mail(), _GBK_SUBJECT, "王镕",
     mf.GBK_ONLY_TEXT),
    ("gb2312-label-gbk-qp", mf.gb2312_labelled_gbk_mail(transfer="quoted-printable"),
     _GBK_SUBJECT, "王镕", mf.GBK_ONLY_TEXT),
    ("gb2312-label-gbk-8bit", mf.gb2312_labelled_gbk_mail(transfer="8bit"), _GBK_SUBJECT, "王镕",
     mf.GBK_ONLY_TEXT),
    ("gbk-qp", mf.gbk_mail(), "张喆的意见", "张三", mf.GBK_ONLY_TEXT),
    ("gb18030-base64", mf.gb18030_mail(), "刘䶮：村名显示错误", "刘䶮", mf.GB18030_ONLY_TEXT),
    ("gb18030-8bit", mf.gb18030_mail(transfer="8bit"), "刘䶮：村名显示错误", "刘䶮",
     mf.GB18030_ONLY_TEXT),
    ("big5-8bit", mf.big5_mail(), "臺灣 意見", "陳大文", mf.BIG5_TEXT),
    ("big5-base64", mf.big5_mail(transfer="base64"), "臺灣 意見", "陳大文", mf.BIG5_TEXT),
    ("gb2312-q-subject", mf.plain_mail(subject=mf.encoded_word("网站留言", "gb2312", q=True)),
     "网站留言", "张三", mf.UTF8_TEXT),
    ("raw-8bit-utf8-subject", mf.raw_8bit_subject_mail("网站留言无人回复", "utf-8",
     sender_name="张三"), "网站留言无人回复", "张三", mf.UTF8_TEXT),
    ("raw-8bit-gbk-subject", mf.raw_8bit_subject_mail("王镕：网站留言无人回复", "gbk",
     sender_name="张三"), "王镕：网站留言无人回复", "张三", mf.UTF8_TEXT),
    ("alternative", mf.alternative_mail(), "关于巡察整改通报的意见", "张三", mf.UTF8_TEXT),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "subject", "name", "text"), [case[1:] for case in DECODING],
                         ids=[case[0] for case in DECODING])  # fmt: skip
def test_staff_see_the_right_text(db, demo, mail_settings, tmp_path, responder_client, raw,
                                  subject, name, text):  # fmt: skip
    """Whatever the charset label and transfer encoding, the case holds the sender's words."""
    inbound = _import_one(db, mail_settings, tmp_path, raw)
    case, first, api = _case_seen_by_staff(db, responder_client, inbound)

    assert (case.subject, case.submitter_name) == (subject, name)
    assert text in case.body and text in first.body
    assert "\ufffd" not in case.subject + case.body
    assert case.channel == "email" and case.submitter_email == mf.SENDER
    assert (api["subject"], api["submitter"]["name"]) == (subject, name)
    assert text in api["body"] and text in api["messages"][0]["body"]


@pytest.mark.parametrize("codec", ["utf-8", "gbk"])
def test_raw_8bit_sender_name_is_decoded(db, demo, mail_settings, tmp_path, codec):
    """A sender's name sent as raw 8-bit bytes (no encoded word) reads as written."""
    raw = mf.raw_8bit_subject_mail("网站留言无人回复", codec, sender_name="李四".encode(codec))
    inbound = _import_one(db, mail_settings, tmp_path, raw)
    with db.session() as session:
        case = session.get(Case, inbound.case_id)
    assert case.subject == "网站留言无人回复"
    assert case.submitter_name == "李四"


def test_html_only_mail_becomes_text_and_sanitised_html(
    db, demo, mail_settings, tmp_path, responder_client
):
    """An HTML-only mail: staff read its words as text; the kept HTML has no script."""
    paragraphs = ["第一段：网站留言无人回复。", "第二段：请公开整改进展。"]
    raw = mf.html_only_mail(paragraphs, charset="gb2312", transfer="base64")
    inbound = _import_one(db, mail_settings, tmp_path, raw)
    case, first, api = _case_seen_by_staff(db, responder_client, inbound)

    for paragraph in paragraphs:
        assert paragraph in case.body and paragraph in api["body"]
    assert case.body.index(paragraphs[0]) < case.body.index(paragraphs[1])
    for leftover in ("<p>", "alert", "color:red", "邮件"):  # tags, script, style, <title>
        assert leftover not in case.body
    assert first.body_html is not None and paragraphs[0] in first.body_html
    assert "<script" not in first.body_html and "alert(" not in first.body_html


ATTACHMENTS = [
    ("foxmail", [("举报材料（王镕）.pdf", "application/pdf"), ("现场照片.png", "image/png")]),
    ("outlook", [("举报材料.pdf", "application/pdf"), ("整改前后对比照片.png", "image/png")]),
    (
        "outlook-split",
        [("关于县融媒体中心网站留言长期无人回复问题的举报材料（第二稿）.pdf", "application/pdf")],
    ),
]


@pytest.mark.parametrize(("style", "files"), ATTACHMENTS, ids=[a[0] for a in ATTACHMENTS])
def test_staff_see_chinese_attachment_names(
    db, demo, mail_settings, tmp_path, responder_client, style, files
):
    """Foxmail (RFC 2047 inside the quotes) and Outlook (RFC 2231, also split) file names
    reach the staff as the citizen named the files; the type comes from the bytes."""
    contents = {"application/pdf": mf.pdf_bytes(), "image/png": mf.png_bytes()}
    raw = mf.mail_with_attachments(
        "材料见附件。",
        [(name, contents[kind]) for name, kind in files],
        style=style,
        charset="gb2312",
        codec="gbk",
    )
    inbound = _import_one(db, mail_settings, tmp_path, raw)
    _case, first, api = _case_seen_by_staff(db, responder_client, inbound)

    stored = [(a.filename, a.content_type, a.size) for a in first.attachments]
    expected = [(name, kind, len(contents[kind])) for name, kind in files]
    assert stored == expected
    shown = [
        (a["filename"], a["content_type"], a["size"]) for a in api["messages"][0]["attachments"]
    ]
    assert shown == expected
    assert "材料见附件。" in first.body


def test_raw_8bit_gbk_attachment_name_is_decoded(db, demo, mail_settings, tmp_path):
    """A file name in raw GBK bytes (old Chinese clients: 新建 文本文档.pdf) reads as written."""
    name = "新建 文本文档（王镕）.pdf"
    raw = mf.mail_with_attachments("见附件。", [(name, mf.pdf_bytes())], style="raw-gbk")
    inbound = _import_one(db, mail_settings, tmp_path, raw)
    with db.session() as session:
        filenames = list(session.scalars(select(Attachment.filename)))
    assert inbound.outcome == "case"
    assert filenames == [name]


# -- machines get no case and no answer ---------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "outcome"),
    [
        (mf.auto_reply_mail(), "auto_reply"),
        (mf.out_of_office_mail(), "auto_reply"),
        (mf.dsn_bounce(), "bounce"),
    ],
    ids=["auto-submitted", "chinese-out-of-office", "dsn-bounce"],
)
def test_machines_get_no_case_and_no_answer(db, demo, mail_settings, tmp_path, raw, outcome):
    """Auto-replies and bounces are stored and recognised, but make no case and no mail."""
    inbound = _import_one(db, mail_settings, tmp_path, raw)

    assert (inbound.outcome, inbound.case_id) == (outcome, None)
    assert inbound.reason
    assert _count(db, Case) == 0
    assert _count(db, OutboxEmail) == 0


def test_bounce_marks_the_outbox_mail_it_reports(db, demo, mail_settings, tmp_path):
    """A DSN for our acknowledgement marks that outbox mail bounced; nothing new is sent."""
    make_case(db, email="wrong@example.cn", body="请回复我。")
    with db.session() as session:
        acknowledgement = session.scalar(select(OutboxEmail))
        assert acknowledgement.bounced_at is None

    raw = mf.dsn_bounce(acknowledgement.message_id, "wrong@example.cn")
    inbound = _import_one(db, mail_settings, tmp_path, raw)

    assert inbound.outcome == "bounce"
    with db.session() as session:
        assert session.get(OutboxEmail, acknowledgement.id).bounced_at is not None
    assert _count(db, OutboxEmail) == 1 and _count(db, Case) == 1
