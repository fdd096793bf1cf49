"""``minyi report monthly``: every format to a file or standard output, the archive, bad input,
and ``--send`` through the outbox."""

from __future__ import annotations

import io
import json

import openpyxl
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from shared.cli import main
from shared.models import OutboxEmail, ReportArchive
from tests.factories import make_staff
from tests.report_helpers import MARKER, october_cases, shanghai

#: October 2026 is reported here as a completed month: everything happens in late November.
pytestmark = pytest.mark.clock(shanghai(2026, 11, 20, 10, 0))


@pytest.fixture
def minyi(db, database_url, tmp_path, monkeypatch):
    """Run ``minyi`` in-process, in an empty working directory, against the test database."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REPORT_RECIPIENTS", raising=False)

    def run(*args: str, **env: str):
        environment = {
            "DATABASE_URL": database_url,
            "SECRET_KEY": "cli-test",
            "VAR_DIR": str(tmp_path / "var"),
            **env,
        }
        return CliRunner().invoke(main, list(args), env=environment, catch_exceptions=False)

    return run


@pytest.fixture
def cases(db, demo):
    return october_cases(db)


@pytest.mark.parametrize("fmt", ["json", "csv", "xlsx", "html", "pdf"])
def test_every_format_is_written_to_the_file_named(minyi, cases, tmp_path, fmt):
    """Each format lands in --output as a file its program opens, holding October's figures."""
    target = tmp_path / f"october.{fmt}"
    result = minyi("report", "monthly", "--month", "2026-10", "--format", fmt, "--output", target)
    assert result.exit_code == 0, result.output
    assert str(target) in result.stderr and result.stdout == ""
    data = target.read_bytes()
    if fmt == "json":
        report = json.loads(data)
        assert report["month"] == "2026-10" and report["received"] == 3
        assert report["by_office"]["finance"]["received"] == 2
    elif fmt == "csv":
        assert "2026-10" in data.decode("utf-8-sig")
    elif fmt == "xlsx":
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
        assert workbook.sheetnames
        workbook.close()
    elif fmt == "html":
        assert b"<html" in data.lower() and b"2026-10" in data
    else:
        assert data.startswith(b"%PDF-")


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_text_formats_go_to_standard_output(minyi, cases, tmp_path, fmt):
    """Without --output a text format is printed (for a pipe); no file is left behind."""
    result = minyi("report", "monthly", "--month", "2026-10", "--format", fmt)
    assert result.exit_code == 0, result.output
    assert "2026-10" in result.stdout
    if fmt == "json":
        assert json.loads(result.stdout)["received"] == 3
    assert [path.name for path in tmp_path.iterdir() if path.is_file()] == []


def test_a_binary_format_goes_to_its_own_file_name_in_the_working_directory(minyi, cases, tmp_path):
    """XLSX is not printed to a terminal: it is saved as ./minyi-report-2026-10.xlsx."""
    result = minyi("report", "monthly", "--month", "2026-10", "--format", "xlsx")
    assert result.exit_code == 0, result.output
    written = tmp_path / "minyi-report-2026-10.xlsx"
    assert written.exists() and written.read_bytes().startswith(b"PK")
    assert str(written) in result.stderr and result.stdout == ""


def test_one_office_shows_nothing_of_another(minyi, cases):
    """--office cyber: cyber's case only; finance's marker and numbers are nowhere."""
    result = minyi(
        "report", "monthly", "--month", "2026-10", "--format", "json", "--office", "cyber"
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["received"] == 1 and list(report["by_office"]) == ["cyber"]
    assert MARKER not in result.stdout and cases["finance"] not in result.stdout
    assert [case["tracking_number"] for case in report["overdue_cases"]] == [cases["cyber"]]


def test_a_completed_month_is_archived_once_and_given_unchanged(minyi, cases, db):
    """The second run answers from the archive: the same bytes, even after a new case."""
    from tests.report_helpers import CYBER_BODY, office_case, shanghai

    first = minyi("report", "monthly", "--month", "2026-10", "--format", "csv")
    office_case(db, "cyber", shanghai(2026, 10, 20, 9, 0), CYBER_BODY)
    second = minyi("report", "monthly", "--month", "2026-10", "--format", "csv")
    assert first.exit_code == second.exit_code == 0
    assert first.stdout_bytes == second.stdout_bytes
    with db.session() as session:
        formats = session.scalars(select(ReportArchive.format).order_by(ReportArchive.format))
        assert list(formats) == ["csv", "json"]


def test_the_next_month_compares_with_the_month_as_archived(minyi, cases, db):
    """November's comparison takes October's figures as reported then (archived), not a
    second count that a late-registered October case would change."""
    from tests.report_helpers import CYBER_BODY, office_case, shanghai

    october = json.loads(minyi("report", "monthly", "--month", "2026-10").stdout)
    office_case(db, "cyber", shanghai(2026, 10, 20, 9, 0), CYBER_BODY)
    november = json.loads(minyi("report", "monthly", "--month", "2026-11").stdout)
    assert october["received"] == 3
    assert november["change"]["received"]["previous_month"] == 3


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--month", "2026-13", "--format", "json"], "month"),
        (["--month", "October", "--format", "json"], "YYYY-MM"),
        (["--month", "1999-12", "--format", "json"], "2000"),
        (["--month", "2099-01", "--format", "json"], "not begun"),
        (["--month", "2026-10", "--format", "docx"], "docx"),
        (["--month", "2026-10", "--format", "json", "--office", "nowhere"], "nowhere"),
        (["--format", "json"], "--month"),
    ],
)
def test_bad_input_is_a_usage_error(minyi, demo, args, says):
    """A bad month, format or office: a message naming it, exit status 2, nothing archived."""
    result = minyi("report", "monthly", *args)
    assert result.exit_code == 2, result.output
    assert says in result.stderr and "Traceback" not in result.output


def test_send_writes_one_mail_with_the_xlsx_and_pdf_attached(minyi, cases, db):
    """--send: one outbox mail to the configured address, its two attachments the XLSX and
    the PDF of the report; the worker delivers it."""
    result = minyi(
        "report", "monthly", "--month", "2026-10", "--format", "json", "--send",
        REPORT_RECIPIENTS="leader@example.cn",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "leader@example.cn" in result.stderr
    with db.session() as session:
        mails = session.scalars(select(OutboxEmail).where(OutboxEmail.to_addr.like("%leader%")))
        (mail,) = mails.all()
        names = sorted(attachment.filename for attachment in mail.attachments)
        assert "2026-10" in mail.subject and "2026-10" in mail.body_text
        assert MARKER not in mail.body_text
    assert len(names) == 2
    assert names[0].endswith(".pdf") and names[1].endswith(".xlsx")


def test_send_to_the_admins_when_no_recipients_are_configured(minyi, cases, db):
    """Without REPORT_RECIPIENTS the active admins with an address get it."""
    make_staff(db, "chief", "admin")
    with db.transaction() as session:
        from shared.models import StaffUser

        chief = session.scalar(select(StaffUser).where(StaffUser.username == "chief"))
        chief.email = "chief@example.cn"
    result = minyi("report", "monthly", "--month", "2026-10", "--format", "json", "--send")
    assert result.exit_code == 0, result.output
    with db.session() as session:
        assert session.scalars(select(OutboxEmail.to_addr)).all() == ["chief@example.cn"]


def test_send_with_nobody_to_send_to_fails_clearly(minyi, cases, db):
    """No REPORT_RECIPIENTS and no admin with an address: exit 1, a message, no mail."""
    result = minyi("report", "monthly", "--month", "2026-10", "--format", "json", "--send")
    assert result.exit_code == 1
    assert "REPORT_RECIPIENTS" in result.stderr
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(OutboxEmail)) == 0


def test_a_bad_recipient_address_is_a_clear_error(minyi, cases, db):
    """REPORT_RECIPIENTS with a typo: the command names the bad address and exits 1."""
    result = minyi(
        "report", "monthly", "--month", "2026-10", "--format", "json", "--send",
        REPORT_RECIPIENTS="leader@example.cn, not-an-address",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "not-an-address" in result.stderr and "Traceback" not in result.output
