"""The worker's scheduled monthly report: from 08:00 Asia/Shanghai on the 1st, last month's
department report is archived in every format and mailed once, whatever the passes and
workers; a failure to make it never holds up the outbox."""

from __future__ import annotations

import threading
from unittest.mock import patch

import pytest
import time_machine
from sqlalchemy import select

import shared.reports
from shared.models import OutboxEmail, ReportArchive
from shared.reports import archive
from tests.factories import queue_outbox
from tests.report_helpers import FINANCE_BODY, MARKER, office_case, shanghai

RECIPIENTS = ("leader@example.cn", "deputy@example.cn")

#: Everything a test here creates (the November case, mail already waiting) is made on the last
#: day of November 2026; the worker's passes then travel into 1 December.
pytestmark = pytest.mark.clock(shanghai(2026, 11, 30, 10, 0))


@pytest.fixture
def november(db, demo):
    """A case of November 2026, so the report has something to count."""
    return office_case(db, "finance", shanghai(2026, 11, 5, 9, 0), FINANCE_BODY)


@pytest.fixture
def worker(make_worker):
    def make():
        return make_worker(None, REPORT_RECIPIENTS=", ".join(RECIPIENTS))

    return make


def report_mails(db) -> list[dict]:
    """The report mails in the outbox: recipient, state and attachment names."""
    with db.session() as session:
        rows = session.scalars(
            select(OutboxEmail).where(OutboxEmail.subject.contains("2026-11")).order_by("id")
        )
        return [
            {
                "to": row.to_addr,
                "state": row.state,
                "attachments": sorted(a.filename for a in row.attachments),
                "body": row.body_text,
            }
            for row in rows
        ]


def archived(db) -> list[tuple[str, str, int | None]]:
    with db.session() as session:
        rows = session.execute(
            select(ReportArchive.month, ReportArchive.format, ReportArchive.office_id).order_by(
                ReportArchive.format
            )
        )
        return [(f"{month:%Y-%m}", fmt, office) for month, fmt, office in rows]


def assert_mailed_once(db) -> None:
    mails = report_mails(db)
    assert sorted(mail["to"] for mail in mails) == sorted(RECIPIENTS)
    for mail in mails:
        assert mail["state"] == "sent"
        assert len(mail["attachments"]) == 2
        assert mail["attachments"][0].endswith(".pdf")
        assert mail["attachments"][1].endswith(".xlsx")
        assert MARKER not in mail["body"]


def test_nothing_before_eight_on_the_first(db, november, worker):
    """At 07:59 on 1 December no report is made or mailed."""
    with time_machine.travel(shanghai(2026, 12, 1, 7, 59), tick=False):
        worker().run_once()
    assert report_mails(db) == [] and archived(db) == []


def test_at_eight_each_recipient_gets_one_mail_and_every_format_is_archived(db, november, worker):
    """08:00 on the 1st: one mail per recipient with the XLSX and PDF, delivered in the same
    pass; November's department report archived in all five formats."""
    with time_machine.travel(shanghai(2026, 12, 1, 8, 0), tick=False):
        worker().run_once()
    assert_mailed_once(db)
    assert archived(db) == [
        ("2026-11", fmt, None) for fmt in sorted(("json", "csv", "xlsx", "html", "pdf"))
    ]


def test_later_passes_and_a_second_worker_mail_nothing_more(db, november, worker):
    """Further passes of the same worker and another worker's pass: still one mail each."""
    first, second = worker(), worker()
    with time_machine.travel(shanghai(2026, 12, 1, 8, 0, 30), tick=False):
        first.run_once()
        first.run_once()
    with time_machine.travel(shanghai(2026, 12, 1, 9, 0), tick=False):
        second.run_once()
    with time_machine.travel(shanghai(2026, 12, 20, 9, 0), tick=False):
        second.run_once()
    assert_mailed_once(db)
    assert len(archived(db)) == 5


def test_two_workers_at_the_same_moment_mail_once(db, november, worker):
    """Two workers passing at once (threads, as two hosts would): one mail per recipient."""
    workers = [worker(), worker()]
    start = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def run(each) -> None:
        try:
            start.wait()
            each.run_once()
        except BaseException as error:  # reported below
            errors.append(error)

    with time_machine.travel(shanghai(2026, 12, 1, 8, 0, 5), tick=False):
        threads = [threading.Thread(target=run, args=(each,)) for each in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        workers[0].run_once()  # whatever one of them left pending is delivered
    assert errors == []
    assert_mailed_once(db)


def test_a_worker_first_running_on_the_third_still_sends(db, november, worker):
    """Down over the 1st and 2nd: the first pass on the 3rd at 10:00 mails November's report."""
    with time_machine.travel(shanghai(2026, 12, 3, 10, 0), tick=False):
        worker().run_once()
    assert_mailed_once(db)


def test_a_failing_renderer_does_not_stop_the_outbox_and_is_retried(
    db, november, worker, monkeypatch
):
    """The PDF cannot be made (no font, say): other mail is still delivered, nothing is half
    archived, and once the renderer works again the next pass mails the report."""
    real_render = shared.reports.render

    def broken(report, fmt, **options):
        if fmt == "pdf":
            raise RuntimeError("no CJK font installed")
        return real_render(report, fmt, **options)

    queue_outbox(db, 1, to="someone@example.cn")
    running = worker()
    monkeypatch.setattr(shared.reports, "render", broken)
    with time_machine.travel(shanghai(2026, 12, 1, 8, 0), tick=False):
        running.run_once()
    with db.session() as session:
        other = session.scalar(select(OutboxEmail).where(OutboxEmail.to_addr.contains("someone")))
        assert other.state == "sent"
    assert report_mails(db) == [] and archived(db) == []

    monkeypatch.setattr(shared.reports, "render", real_render)
    with time_machine.travel(shanghai(2026, 12, 1, 8, 1), tick=False):
        running.run_once()
    assert_mailed_once(db)


def test_no_recipients_archives_and_mails_nobody(db, november, make_worker):
    """No REPORT_RECIPIENTS and no admin with an address: archived, no mail, no crash."""
    with time_machine.travel(shanghai(2026, 12, 1, 8, 0), tick=False):
        make_worker(None).run_once()
    assert report_mails(db) == []
    assert len(archived(db)) == 5
    # Later passes (every few seconds) find it archived and read none of the files again.
    with (
        time_machine.travel(shanghai(2026, 12, 1, 8, 5), tick=False),
        patch.object(archive, "report_file", wraps=archive.report_file) as read,
    ):
        make_worker(None).run_once()
    assert read.call_count == 0


def test_a_bad_recipient_setting_is_logged_not_a_crash(db, november, make_worker, caplog):
    """A typo in REPORT_RECIPIENTS (given past the startup check): the step fails with a
    message naming it, the worker goes on."""
    queue_outbox(db, 1, to="someone@example.cn")
    with time_machine.travel(shanghai(2026, 12, 1, 8, 0), tick=False):
        make_worker(None, REPORT_RECIPIENTS="leader@example.cn, oops").run_once()
    with db.session() as session:
        other = session.scalar(select(OutboxEmail).where(OutboxEmail.to_addr.contains("someone")))
        assert other.state == "sent"
    assert report_mails(db) == []
    assert "oops" in caplog.text


def test_a_report_viewed_before_eight_is_still_mailed_at_eight(db, november, worker, settings):
    """Someone opened November's report at 07:00 (archiving its JSON): 08:00 mails it all the
    same, with the figures that were archived."""
    from responder import create_app
    from tests.factories import log_in, make_staff

    make_staff(db, "early", "admin")
    app = create_app(settings)
    with time_machine.travel(shanghai(2026, 12, 1, 7, 0), tick=False):
        client = app.test_client()
        log_in(client, "early")
        assert client.get("/reports/?month=2026-11").status_code == 200
    assert archived(db) == [("2026-11", "json", None)]
    with time_machine.travel(shanghai(2026, 12, 1, 8, 0), tick=False):
        worker().run_once()
    assert_mailed_once(db)
    assert len(archived(db)) == 5


def test_a_bad_recipient_address_stops_the_worker_at_start(monkeypatch, tmp_path):
    """REPORT_RECIPIENTS is checked when the settings are read: a typo is a startup error
    naming the address, not a failure at 08:00 on the 1st."""
    from shared.config import ConfigError, load_settings

    monkeypatch.chdir(tmp_path)  # no .env file
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SECRET_KEY", "test")
    monkeypatch.setenv("REPORT_RECIPIENTS", "leader@example.cn; deputy@example.cn")
    with pytest.raises(ConfigError, match=r"REPORT_RECIPIENTS.*deputy"):
        load_settings()
    monkeypatch.setenv("REPORT_RECIPIENTS", " leader@example.cn, deputy@example.cn ,")
    assert load_settings()["REPORT_RECIPIENTS"] == RECIPIENTS
