"""What the product does on the dates that matter, run for real: the `minyi` commands and the
two apps in processes whose system clock is set to that date with faketime, as on a server on
that day (rather than a clock a test moves inside its own process): the report on the 1st,
deadlines over the new year and the Spring Festival on the official calendar, the warning
about a missing calendar in December and in a year the calendar package does not know."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from tests.clock import FAKETIME, at, with_fake_clock, without_faketime
from tests.conftest import require

SHANGHAI = ZoneInfo("Asia/Shanghai")
MINYI = Path(sys.executable).with_name("minyi")
ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse 1"


def shanghai(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


@dataclass
class Site:
    """An installation in a folder of its own (SQLite, mail to files), run at chosen dates."""

    root: Path

    def environment(self, **settings: str) -> dict[str, str]:
        return with_fake_clock(
            {
                **without_faketime(os.environ),
                "TZ": "UTC",
                "MINYI_ENV": "development",
                "VAR_DIR": str(self.root / "var"),
                "DATABASE_URL": f"sqlite:///{self.root / 'minyi.db'}",
                "SECRET_KEY": "dates",
                "RATELIMIT_ENABLED": "false",
                "FORM_MIN_FILL_SECONDS": "0",
                "PYTHONPATH": str(ROOT),
                **settings,
            }
        )

    def run(self, instant: datetime, *command: str, stdin: str = "", **settings: str) -> str:
        require(FAKETIME is not None, "faketime is not installed (apt-get install faketime)")
        done = subprocess.run(
            [*at(instant), *command],
            env=self.environment(**settings),
            cwd=self.root,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def minyi(self, instant: datetime, *arguments: str, **settings: str) -> str:
        return self.run(instant, str(MINYI), *arguments, **settings)

    def python(self, instant: datetime, code: str) -> dict:
        """Run ``code`` (which prints one JSON line last) at ``instant``."""
        return json.loads(self.run(instant, sys.executable, "-c", code).splitlines()[-1])

    def mails(self) -> list:
        folder = self.root / "var" / "mail"
        parse = BytesParser(policy=policy.default).parsebytes
        return [parse(path.read_bytes()) for path in sorted(folder.glob("*.eml"))]


@pytest.fixture
def site(tmp_path) -> Site:
    return Site(tmp_path)


def installed(site: Site, instant: datetime) -> Site:
    site.minyi(instant, "db", "upgrade")
    site.minyi(instant, "seed", "demo")
    return site


# -- the monthly report on the 1st ---------------------------------------------------------

MAIL = """From: 王小明 <wxm@example.cn>
To: feedback@minyi.localhost
Subject: 网络评论员队伍建设
Message-ID: <dates-1@example.cn>
Content-Type: text/plain; charset=utf-8

建议加强网络评论员队伍建设，及时回应群众关切。
"""


def test_the_report_of_december_is_mailed_from_eight_on_new_years_day(site):
    """The worker run at 07:59 on 1 January 2027 (Shanghai) mails no report; run at 08:00 it
    mails December's, with the PDF and the workbook."""
    installed(site, shanghai(2026, 12, 20, 10, 0))
    (site.root / "letter.eml").write_text(MAIL, encoding="utf-8")
    site.minyi(shanghai(2026, 12, 20, 10, 5), "import-mail", str(site.root / "letter.eml"))
    report = {"REPORT_RECIPIENTS": "leader@example.cn"}

    site.minyi(shanghai(2027, 1, 1, 7, 59, 0), "worker", "--once", **report)
    assert not [m for m in site.mails() if "月度报告" in m["Subject"]]

    site.minyi(shanghai(2027, 1, 1, 8, 0, 0), "worker", "--once", **report)
    [mail] = [m for m in site.mails() if "月度报告" in m["Subject"]]
    assert "2026-12" in mail["Subject"] and mail["To"] == "leader@example.cn"
    assert "截至目前" not in mail["Subject"]  # a completed month
    names = sorted(part.get_filename() for part in mail.iter_attachments())
    assert [Path(name).suffix for name in names] == [".pdf", ".xlsx"]


# -- deadlines on the official calendar ----------------------------------------------------

#: Sends an inquiry through the real form and prints the receipt's first date (acknowledge by).
SUBMIT_INQUIRY = """
import json, re
from intake import create_app
client = create_app().test_client()
page = client.get("/?lang=en").get_data(as_text=True)
token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
item = re.search(r'name="notice_item" value="(XC21-[^"]+)"', page)[1]
receipt = client.post("/feedback?lang=en", data={
    "csrf_token": token, "body": "请问整改进展情况如何？", "category": "inquiry",
    "notice_item": item,
}).get_data(as_text=True)
print(json.dumps(re.findall(r"\\d{4}-\\d{2}-\\d{2}", receipt)))
"""


def third_working_day_after(day: date) -> date:
    """The oracle: the official calendar as the chinese-calendar package has it."""
    count = 0
    while count < 3:
        day = date.fromordinal(day.toordinal() + 1)
        count += chinese_calendar.is_workday(day)
    return day


@pytest.mark.parametrize(
    "instant",
    [
        pytest.param(shanghai(2025, 12, 31, 23, 30), id="new-years-eve-23.30"),
        pytest.param(shanghai(2026, 2, 23, 10, 0), id="last-day-of-the-spring-festival"),
        pytest.param(shanghai(2026, 2, 24, 9, 0), id="first-working-day-after-it"),
    ],
)
def test_an_inquiry_is_acknowledged_within_three_official_working_days(site, instant):
    """The demo's inquiries are acknowledged within 3 working days: holidays are skipped and
    make-up working days count, as the State Council's calendar has them."""
    installed(site, instant - timedelta(minutes=5))  # the notice opens when the demo is loaded
    dates = site.python(instant, SUBMIT_INQUIRY)
    assert dates, "the receipt shows no dates"
    assert dates[0] == third_working_day_after(instant.date()).isoformat()


# -- a missing working-day calendar --------------------------------------------------------

#: Logs the admin in and prints whether the case list warns, and about which year.
DASHBOARD = """
import json, re
from responder import create_app
client = create_app().test_client()
page = client.get("/login").get_data(as_text=True)
token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
client.post("/login", data={"csrf_token": token, "username": "boss", "password": PASSWORD})
page = client.get("/?lang=en").get_data(as_text=True)
warning = re.search(r'id="calendar-warning">(.*?)</p>', page, re.S)
print(json.dumps({"logged_in": "boss" in page, "warning": warning and warning[1]}))
""".replace("PASSWORD", repr(PASSWORD))


def admin(site: Site, instant: datetime) -> Site:
    installed(site, instant)
    site.minyi(instant, "user", "add", "boss", "--role", "admin", stdin=PASSWORD + "\n")
    return site


def test_in_december_the_coming_years_missing_calendar_is_announced(site):
    """The package does not know 2027: nothing on 30 November at 23:00 in Shanghai; from
    1 December 01:00 in Shanghai (still 30 November in UTC) admins are led to enter it."""
    admin(site, shanghai(2026, 11, 20, 10, 0))
    before = site.python(shanghai(2026, 11, 30, 23, 0), DASHBOARD)
    assert before == {"logged_in": True, "warning": None}
    december = site.python(shanghai(2026, 12, 1, 1, 0), DASHBOARD)
    assert december["logged_in"] and "calendar of 2027 is missing" in december["warning"]


def test_a_year_the_calendar_package_does_not_know_is_announced_all_year(site):
    """Installed in March 2028 (the package knows no 2028): the demo stores no calendar for it,
    and admins are warned that deadlines count every weekday until someone enters it."""
    admin(site, shanghai(2028, 3, 1, 9, 0))
    march = site.python(shanghai(2028, 3, 1, 9, 30), DASHBOARD)
    assert march["logged_in"] and "calendar of 2028 is missing" in march["warning"]
