"""The reports page, its downloads, the archive and the report API, per role: admins and
triagers see the department, officers and reviewers their own offices and nothing else."""

from __future__ import annotations

import io
import json
import shutil
import subprocess

import openpyxl
import pytest
import time_machine
from argon2 import PasswordHasher
from sqlalchemy import func, select

from shared import security
from shared.models import Office, ReportArchive
from tests.conftest import require
from tests.factories import log_in, make_staff, make_token
from tests.report_helpers import CYBER_BODY, MARKER, october_cases, office_case, shanghai

#: The October cases and the staff are made in late November 2026; pages are read then or on
#: the days the tests travel to.
pytestmark = pytest.mark.clock(shanghai(2026, 11, 20, 10, 0))

FORMATS = ("json", "csv", "xlsx", "html", "pdf")
#: The finance office's name, which an officer of cyber must not see in any figure.
FINANCE = "财务室"


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch):
    monkeypatch.setattr(
        security, "_password_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )


@pytest.fixture
def cases(db, demo):
    cases = october_cases(db)
    make_staff(db, "boss", "admin")
    make_staff(db, "sorter", "triager")
    make_staff(db, "cyber1", "officer", ["cyber"])
    make_staff(db, "cyberrev", "reviewer", ["cyber"])
    make_staff(db, "fin1", "officer", ["finance"])
    return cases


def client_of(app, username: str):
    client = app.test_client()
    assert log_in(client, username).status_code == 302
    return client


def text_of(data: bytes, fmt: str, tmp_path) -> str:
    """What a reader of the file sees, as text."""
    if fmt == "xlsx":
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
        cells = [
            str(value)
            for sheet in workbook.worksheets
            for row in sheet.iter_rows(values_only=True)
            for value in row
            if value is not None
        ]
        workbook.close()
        return "\n".join(cells)
    if fmt == "pdf":
        require(shutil.which("pdftotext") is not None, "poppler-utils is not installed")
        path = tmp_path / "report.pdf"
        path.write_bytes(data)
        return subprocess.run(
            ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
        ).stdout
    return data.decode("utf-8-sig")


# -- the page ----------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["boss", "sorter"])
def test_admins_and_triagers_see_the_whole_department(responder_app, cases, username):
    """The department's October: every office's cases, the overdue finance case's number."""
    page = client_of(responder_app, username).get("/reports/?month=2026-10&lang=en")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert cases["finance"] in html and cases["cyber"] in html and FINANCE in html
    assert "whole department" in html


@pytest.mark.parametrize("username", ["cyber1", "cyberrev"])
def test_officers_and_reviewers_see_only_their_offices(responder_app, cases, username):
    """Cyber's people: cyber's case, nothing of finance, not even when they ask for it."""
    client = client_of(responder_app, username)
    for query in ("month=2026-10", "month=2026-10&office=finance"):
        page = client.get(f"/reports/?{query}")
        html = page.get_data(as_text=True)
        assert page.status_code == 200
        assert cases["cyber"] in html
        for secret in (MARKER, cases["finance"], cases["finance2"], FINANCE):
            assert secret not in html, f"{username} sees {secret!r} at {query}"


def test_the_default_is_the_last_completed_month_with_links_to_earlier_ones(responder_app, cases):
    """On 15 November the page shows October, archived, with when it was generated."""
    with time_machine.travel(shanghai(2026, 11, 15, 10, 0)):
        client = client_of(responder_app, "boss")
        html = client.get("/reports/?lang=en").get_data(as_text=True)
    assert "Monthly report 2026-10" in html and cases["finance"] in html
    assert "archived" in html and "2026-11-15" in html
    assert "month=2026-09" in html and "month=2026-11" in html


def test_the_current_month_is_so_far_and_never_archived(responder_app, cases, db):
    """November on 15 November: counted live, labelled "so far", nothing stored."""
    office_case(db, "cyber", shanghai(2026, 11, 2, 9, 0), CYBER_BODY, overdue=False)
    with time_machine.travel(shanghai(2026, 11, 15, 10, 0)):
        client = client_of(responder_app, "boss")
        page = client.get("/reports/?month=2026-11&lang=en")
        download = client.get("/reports/?month=2026-11&format=json")
    assert page.status_code == 200 and "so far" in page.get_data(as_text=True)
    assert download.status_code == 200 and json.loads(download.data)["received"] == 1
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(ReportArchive)) == 0


@pytest.mark.parametrize(
    "query", ["month=2026-13", "month=october", "month=2099-01", "month=2026-10&format=docx"]
)
def test_bad_input_shows_the_page_with_a_message(responder_app, cases, query):
    """A month or format that makes no report: the form again with a message, never a 500."""
    page = client_of(responder_app, "boss").get(f"/reports/?{query}&lang=en")
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert 'role="alert"' in html and 'name="month"' in html


# -- downloads ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_officer_downloads_only_their_offices_figures(responder_app, cases, fmt, tmp_path):
    """Every format of cyber's October holds cyber's case and nothing of finance; the admin's
    file of the same month holds finance's (the control)."""
    officer = client_of(responder_app, "cyber1")
    response = officer.get(f"/reports/?month=2026-10&format={fmt}&office=finance")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Content-Disposition"].endswith(f"-cyber.{fmt}")
    shown = text_of(response.data, fmt, tmp_path)
    assert cases["cyber"] in shown
    for secret in (MARKER, cases["finance"], FINANCE):
        assert secret not in shown

    admin = client_of(responder_app, "boss").get(f"/reports/?month=2026-10&format={fmt}")
    assert cases["finance"] in text_of(admin.data, fmt, tmp_path)


def test_archived_files_do_not_change_when_the_cases_do(responder_app, cases, db):
    """October's files are archived when first made: a case registered late for October
    changes neither the downloads nor the API's figures."""
    client = client_of(responder_app, "boss")
    token = make_token(db, "reader", "admin")
    api = {"Authorization": f"Bearer {token}"}
    before = {fmt: client.get(f"/reports/?month=2026-10&format={fmt}").data for fmt in FORMATS}
    figures = responder_app.test_client().get("/api/v1/reports/monthly?month=2026-10", headers=api)
    office_case(db, "cyber", shanghai(2026, 10, 25, 9, 0), CYBER_BODY)
    after = {fmt: client.get(f"/reports/?month=2026-10&format={fmt}").data for fmt in FORMATS}
    again = responder_app.test_client().get("/api/v1/reports/monthly?month=2026-10", headers=api)
    assert before == after
    assert figures.json["received"] == again.json["received"] == 3
    # The control: the late case is counted where nothing was archived (cyber alone).
    late = client.get("/reports/?month=2026-10&format=json&office=cyber")
    assert json.loads(late.data)["received"] == 2


def test_the_archive_list_and_its_files_per_role(responder_app, cases, db):
    """The admin's archive lists both scopes; cyber's officer sees cyber's files only, and
    finance's archived file does not exist for them (404) while the admin downloads it."""
    admin = client_of(responder_app, "boss")
    assert admin.get("/reports/?month=2026-10&office=finance&format=csv").status_code == 200
    officer = client_of(responder_app, "cyber1")
    assert officer.get("/reports/?month=2026-10&format=csv").status_code == 200
    with db.session() as session:
        rows = session.execute(
            select(ReportArchive.id, Office.code, ReportArchive.format).join(
                Office, ReportArchive.office_id == Office.id
            )
        ).all()
    by_office = {(code, fmt): archive_id for archive_id, code, fmt in rows}
    finance_csv = by_office[("finance", "csv")]
    cyber_csv = by_office[("cyber", "csv")]

    listing = officer.get("/reports/?month=2026-10").get_data(as_text=True)
    assert f"/reports/archive/{cyber_csv}" in listing
    assert f"/reports/archive/{finance_csv}" not in listing
    assert officer.get(f"/reports/archive/{finance_csv}").status_code == 404
    assert officer.get(f"/reports/archive/{cyber_csv}").status_code == 200

    assert f"/reports/archive/{finance_csv}" in admin.get("/reports/").get_data(as_text=True)
    download = admin.get(f"/reports/archive/{finance_csv}")
    assert download.status_code == 200 and MARKER in download.data.decode("utf-8-sig")
    assert download.headers["Content-Disposition"].endswith("minyi-report-2026-10-finance.csv")


def test_anonymous_visitors_are_sent_to_the_login(responder_client, cases):
    for path in ("/reports/", "/reports/?month=2026-10&format=json", "/reports/archive/1"):
        response = responder_client.get(path)
        assert response.status_code == 302 and "/login" in response.location


# -- the API -----------------------------------------------------------------------------------


def test_api_answers_the_report_scoped_to_the_token(responder_client, cases, db):
    """An admin's token: the department's October; an officer's: their office's only."""
    admin = make_token(db, "api-admin", "admin")
    officer = make_token(db, "api-cyber", "officer", ["cyber"])
    url = "/api/v1/reports/monthly?month=2026-10"
    whole = responder_client.get(url, headers={"Authorization": f"Bearer {admin}"})
    assert whole.status_code == 200
    assert whole.json["month"] == "2026-10" and whole.json["received"] == 3
    assert set(whole.json["by_office"]) >= {"finance", "cyber"}
    for key in ("by_channel", "by_item", "replied", "on_time_rate", "median_reply_days"):
        assert key in whole.json

    own = responder_client.get(
        url + "&office=finance", headers={"Authorization": f"Bearer {officer}"}
    )
    assert own.status_code == 200 and own.json["received"] == 1
    assert list(own.json["by_office"]) == ["cyber"]
    body = own.get_data(as_text=True)
    assert MARKER not in body and cases["finance"] not in body and FINANCE not in body


@pytest.mark.parametrize(
    ("query", "field"),
    [("month=2026-13", "month"), ("month=soon", "month"), ("month=2026-10&office=xx", "office")],
)
def test_api_refuses_bad_input_with_422(responder_client, cases, db, query, field):
    token = make_token(db, "api-admin", "admin")
    response = responder_client.get(
        f"/api/v1/reports/monthly?{query}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 422
    assert list(response.json["errors"]) == [field] and response.json["errors"][field]


def test_api_needs_a_token(responder_client, cases):
    assert responder_client.get("/api/v1/reports/monthly?month=2026-10").status_code == 401


def test_an_officer_of_no_office_gets_no_report(responder_app, responder_client, cases, db):
    """An officer not yet in any office: no figures at all (not the department's)."""
    make_staff(db, "newcomer", "officer")
    page = client_of(responder_app, "newcomer").get("/reports/?month=2026-10&lang=en")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "no office" in html
    assert cases["cyber"] not in html and cases["finance"] not in html
    token = make_token(db, "api-newcomer", "officer")
    response = responder_client.get(
        "/api/v1/reports/monthly?month=2026-10", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 404 and "received" not in response.json
