"""The monthly report in every format, looked at the way its readers will: parsed back by the
csv module, opened with openpyxl, read by poppler's tools, shown in chromium."""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import shutil
import subprocess
import time
import zipfile
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from PIL import Image

from shared import reports
from shared.reports import page, pdf, tables
from tests.conftest import require
from tests.e2e.conftest import SCREENSHOTS
from tests.shared.report_sample import empty_report, sample_report, scaled_report

SCRIPT = "<script>window.__pwned = 1</script>"
FORMULA = "=cmd|' /C calc'!A0"
IMG = '<img src="x" onerror="window.__pwned = 2">'
LONG_WORD = "W" * 3000


def hostile_report() -> dict:
    """Citizens' text and staff-typed names at their worst, where the report shows them."""
    report = copy.deepcopy(sample_report())
    report["by_office"]["cyber"]["name"] = SCRIPT
    report["by_office"]["news"]["name"] = FORMULA
    report["by_office"]["civil"]["name"] = "县文明办\x07\x1b[31m\x0b"
    report["scope"]["names"][3] = SCRIPT
    report["top_words"][0]["word"] = IMG
    report["top_words"][1]["word"] = "@SUM(1+1)"
    report["top_words"][2]["word"] = LONG_WORD
    report["clusters"][0]["label"] = FORMULA
    report["items"]["XC21-04"]["title"] = "+" + SCRIPT
    return report


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def csv_table(rows: list[list[str]], title: str) -> list[list[str]]:
    """The rows of one table of the csv file: from its header row to the blank line."""
    start = rows.index([title])
    end = rows.index([], start)
    body = rows[start + 1 : end]
    return body[1:] if len(body[0]) == 1 else body  # a note under the title


def poppler(*command: str) -> str:
    require(shutil.which(command[0]) is not None, "poppler-utils is not installed")
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


# JSON, file names, content types


def test_json_round_trips_the_report() -> None:
    """The json file is the report dict itself, Chinese kept readable."""
    for report in (sample_report(), empty_report()):
        data = reports.render(report, "json")
        assert json.loads(data) == report
    assert "县委网信办".encode() in reports.render(sample_report(), "json")


def test_file_names_and_types() -> None:
    """Downloads are named after the month, and the offices when the report is limited."""
    assert reports.filename(sample_report(), "xlsx") == "minyi-report-2026-10.xlsx"
    assert reports.filename(empty_report(), "pdf") == "minyi-report-2026-02-party.pdf"
    assert reports.content_type("csv").startswith("text/csv")
    assert reports.content_type("pdf") == "application/pdf"
    with pytest.raises(ValueError, match="unknown report format"):
        reports.render(sample_report(), "docx")
    with pytest.raises(ValueError, match="unknown report language"):
        reports.render(sample_report(), "csv", language="fr")


# CSV


def test_csv_parses_back_and_holds_the_numbers() -> None:
    """Excel's BOM, one table after another with its title, the figures as in the report."""
    data = reports.render(sample_report(), "csv", language="en")
    assert data.startswith("\ufeff".encode())
    rows = csv_rows(data)
    assert rows[0] == ["Monthly report on public feedback, 2026-10"]

    offices = csv_table(rows, "Offices, best first")
    assert offices[0][:4] == ["Rank", "Office", "Office code", "Cases received"]
    cyber = next(row for row in offices if row[2] == "cyber")
    assert cyber[1] == "县委网信办"
    assert cyber[3:7] == ["41", "35", "29", "13"]
    assert cyber[7] == "82.86%"
    assert next(row for row in offices if row[2] == "finance")[8] == ""  # no ratings: no rate

    summary = dict(csv_table(rows, "Summary")[1:])
    assert summary["Cases received"] == "137"
    assert summary["On-time reply rate"] == "88.89%"
    assert summary["Days to first reply (median)"] == "6.5"

    change = {
        row[0]: row
        for row in csv_table(rows, "Compared with the previous month and the same month last year")
    }
    assert change["Satisfaction rate"][3] == "-1.36 pp"  # our own number, not quoted as text
    assert change["Cases received"][3] == "+22.32%"

    assert len(csv_table(rows, "Open and overdue at month end")) == 41
    assert len(csv_table(rows, "Day by day")) == 32
    assert len(csv_table(rows, "Most frequent words")) == 31


def test_csv_quotes_formulas_and_drops_control_characters() -> None:
    """A cell a spreadsheet would run as a formula is text; invisible characters are gone."""
    text = reports.render(hostile_report(), "csv", language="en").decode("utf-8-sig")
    rows = csv_rows(text.encode())
    cells = {cell for row in rows for cell in row}
    assert "'" + FORMULA in cells and FORMULA not in cells
    assert "'@SUM(1+1)" in cells
    assert "'+" + SCRIPT in cells
    assert "县文明办[31m" in cells
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", text)


# XLSX

EN_SHEETS = [
    "Summary",
    "By office",
    "By channel",
    "By category",
    "By notice item",
    "Daily",
    "Top words",
    "Clusters",
    "Overdue cases",
    "Definitions",
]


def test_xlsx_sheets_numbers_percentages_and_charts() -> None:
    """One sheet per part; real numbers, real percentages, Excel dates; native charts."""
    data = reports.render(sample_report(), "xlsx", language="en")
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    assert workbook.sheetnames == EN_SHEETS

    offices = workbook["By office"]
    assert offices["A1"].value == "Offices, best first"
    assert [cell.value for cell in offices[2][:4]] == [
        "Rank",
        "Office",
        "Office code",
        "Cases received",
    ]
    assert offices.freeze_panes == "A3"
    first = offices[3]
    assert [cell.value for cell in first[:4]] == [1, "理论教育股", "theory", 12]
    cyber = next(row for row in offices.iter_rows(min_row=3) if row[2].value == "cyber")
    assert cyber[3].value == 41
    assert cyber[7].value == pytest.approx(0.8286)
    assert cyber[7].number_format == "0.0%"

    summary = {row[0].value: row[1] for row in workbook["Summary"].iter_rows() if row[0].value}
    assert summary["Cases received"].value == 137
    assert summary["Satisfaction rate"].value == pytest.approx(0.8875)
    assert summary["Satisfaction rate"].number_format == "0.0%"

    daily = workbook["Daily"]
    assert daily["A3"].value.date().isoformat() == "2026-10-01"
    assert daily["A3"].is_date
    overdue = workbook["Overdue cases"]
    assert overdue["A3"].value == "Tracking number"
    assert overdue.max_row == 3 + 40
    assert overdue["D4"].is_date and overdue["F4"].value == 75

    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert len([name for name in names if re.fullmatch(r"xl/charts/chart\d+\.xml", name)]) == 4


def test_xlsx_keeps_hostile_strings_as_text() -> None:
    """Names that look like formulas or markup are plain text cells in the workbook."""
    data = reports.render(hostile_report(), "xlsx", language="en")
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    names = {row[2].value: row[1] for row in workbook["By office"].iter_rows(min_row=3)}
    assert names["news"].value == FORMULA
    assert names["news"].data_type == "s"
    assert names["cyber"].value == SCRIPT
    assert names["civil"].value == "县文明办[31m"
    words = [row[1].value for row in workbook["Top words"].iter_rows(min_row=4)]
    assert words[:3] == [IMG, "@SUM(1+1)", LONG_WORD]


def test_xlsx_stays_fast_for_a_city(capsys) -> None:
    """50,000 overdue cases: seconds, not minutes; the html and pdf show the first 1,000."""
    report = scaled_report(50_000)
    started, cpu_started = time.perf_counter(), time.process_time()
    data = reports.render(report, "xlsx")
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    with capsys.disabled():
        print(
            f"\nxlsx, 50,000 overdue rows: {elapsed:.1f} s ({cpu:.1f} s CPU), {len(data):,} bytes"
        )
    assert cpu < 20  # CPU time: other processes on a busy machine do not count
    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    assert workbook[workbook.sheetnames[8]].max_row == 3 + 50_000
    workbook.close()
    html = reports.render(report, "html", language="en").decode()
    assert "The first 1,000 of 50,000 rows" in html
    assert html.count("<tr>") < 1000 + 200


# PDF


def test_pdf_embeds_a_subset_chinese_font_and_reads_back(tmp_path: Path) -> None:
    """pdffonts: embedded subset; pdftotext: the office names; page 1 is not blank."""
    path = tmp_path / "report.pdf"
    path.write_bytes(reports.render(sample_report(), "pdf"))
    fonts = poppler("pdffonts", str(path)).splitlines()[2:]
    assert fonts, "no font in the pdf"
    for line in fonts:
        name, *_, emb, sub, uni, _obj, _gen = line.split()
        assert re.match(r"[A-Z]{6}\+", name), line
        assert (emb, sub, uni) == ("yes", "yes", "yes"), line
    text = poppler("pdftotext", "-layout", str(path), "-")
    for name in ("县委网信办", "理论教育股", "县融媒体中心", "网络舆情", "网页表单"):
        assert name in text
    assert "2026-10" in text

    poppler("pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(path), str(tmp_path / "page"))
    png = next(tmp_path.glob("page*.png"))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(png, SCREENSHOTS / "report-pdf-page1.png")
    image = Image.open(png).convert("L")
    dark = sum(image.histogram()[:200])
    assert dark > image.width * image.height * 0.02


def test_pdf_long_tables_break_with_headers_and_page_numbers(tmp_path: Path) -> None:
    """A long overdue list runs over pages, each with the header row and its page number."""
    path = tmp_path / "report.pdf"
    path.write_bytes(reports.render(scaled_report(300), "pdf", language="en"))
    pages = poppler("pdftotext", "-layout", str(path), "-").split("\f")
    pages = [text for text in pages if text.strip()]
    total = len(pages)
    assert total > 8
    assert f"Page {total} of {total}" in pages[-1]
    with_header = [text for text in pages if re.search(r"^Tracking\b", text, re.M)]
    assert len(with_header) >= 4
    assert all("Monthly report on public feedback, 2026-10" in text for text in pages)


def test_pdf_renders_hostile_strings_as_text(tmp_path: Path) -> None:
    """Markup and formulas are only text on the page; a huge word does not break the layout."""
    path = tmp_path / "report.pdf"
    path.write_bytes(reports.render(hostile_report(), "pdf", language="en"))
    text = poppler("pdftotext", str(path), "-")
    assert "window.__pwned" in text
    assert "calc" in text


def test_pdf_without_a_font_names_the_package(monkeypatch) -> None:
    """No Chinese font: a clear message saying which Debian package to install."""
    monkeypatch.delenv(pdf.FONT_ENV, raising=False)
    monkeypatch.setattr(pdf, "KNOWN_FONTS", ("/nonexistent/font.ttc",))
    with pytest.raises(reports.FontMissing, match="fonts-wqy-microhei"):
        reports.render(sample_report(), "pdf")
    monkeypatch.setenv(pdf.FONT_ENV, "/nonexistent/custom.ttf")
    with pytest.raises(reports.FontMissing, match=re.escape("/nonexistent/custom.ttf")):
        reports.render(sample_report(), "pdf")


def test_pdf_font_from_the_environment(monkeypatch) -> None:
    """MINYI_REPORT_FONT picks the font; in Noto's collection the Simplified Chinese face."""
    noto = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
    require(noto.exists(), "fonts-noto-cjk is not installed")
    monkeypatch.setenv(pdf.FONT_ENV, str(noto))
    assert pdf.find_font() == (noto, 2)


# HTML and the fragment


def test_html_is_one_self_contained_file() -> None:
    """Inline style and SVG; no script, no link, no external source of any kind."""
    html = reports.render(sample_report(), "html").decode()
    assert html.startswith("<!doctype html>")
    assert '<html lang="zh-CN">' in html
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html
    assert html.count("<svg") == 4
    assert html.count('role="img"') == 4
    assert "县委网信办" in html and "关于县城文明养犬的联名建议" in html
    assert "网页表单" in html  # a label from the catalogue: Chinese by default
    english = reports.render(sample_report(), "html", language="en").decode()
    assert "Web form" in english and '<html lang="en">' in english


def test_fragment_style_stays_inside_the_report() -> None:
    """The fragment's every style rule is scoped to the .report wrapper."""
    fragment = str(reports.report_fragment(sample_report(), language="en"))
    assert fragment.startswith('<section class="report"')
    assert fragment.rstrip().endswith("</section>")
    assert "<html" not in fragment and "<body" not in fragment
    style = re.search(r"<style>(.*?)</style>", fragment, re.S).group(1)
    flat = re.sub(r"@media[^{]*\{", "", style)
    selectors = re.findall(r"([^{}]+)\{[^{}]*\}", flat)
    assert selectors
    for group in selectors:
        for selector in group.split(","):
            assert selector.strip().startswith(".report"), selector
    assert "@page" not in style


def test_html_escapes_hostile_strings() -> None:
    """Office names, words and labels from citizens are escaped everywhere, SVG included."""
    html = reports.render(hostile_report(), "html", language="en").decode()
    assert SCRIPT not in html and IMG not in html
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in html
    assert "&lt;img src=&#34;x&#34; onerror=&#34;window.__pwned = 2&#34;&gt;" in html
    assert "\x07" not in html and "\x1b" not in html


# The empty month, and the language


def test_every_format_renders_an_empty_month(tmp_path: Path) -> None:
    """Nothing happened: every format still renders, saying so rather than failing."""
    report = empty_report()
    for fmt in reports.FORMATS:
        data = reports.render(report, fmt, language="en")
        assert data, fmt
    html = reports.render(report, "html", language="en").decode()
    assert "Nothing this month." in html
    assert "0 received and 0 replied over 28 days." in html
    workbook = openpyxl.load_workbook(io.BytesIO(reports.render(report, "xlsx", language="en")))
    summary = {
        row[0].value: row[1].value for row in workbook["Summary"].iter_rows() if row[0].value
    }
    assert summary["Cases received"] == 0
    assert summary["On-time reply rate"] is None
    rows = csv_rows(reports.render(report, "csv", language="en"))
    assert dict(csv_table(rows, "Summary")[1:])["Satisfaction rate"] == ""
    path = tmp_path / "empty.pdf"
    path.write_bytes(reports.render(report, "pdf"))
    assert "机关党支部" in poppler("pdftotext", str(path), "-")


def test_tables_are_the_same_in_every_language_but_the_labels() -> None:
    """One set of tables: the same rows in Chinese and English, only the labels differ."""
    chinese = tables.build(sample_report(), "zh")
    english = tables.build(sample_report(), "en")
    assert [table.key for table in chinese] == [table.key for table in english]
    for zh_table, en_table in zip(chinese, english, strict=True):
        assert len(zh_table.rows) == len(en_table.rows)
    by_channel = next(table for table in chinese if table.key == "by_channel")
    assert by_channel.rows[0][:2] == ["网页表单", 78]


def test_paged_formats_clip_long_tables_only() -> None:
    """The html and pdf keep every row of a table up to the limit, and say when they clip."""
    table = next(t for t in tables.build(scaled_report(1500), "en") if t.key == "overdue_cases")
    clipped = page.clip(table, "en")
    assert len(clipped.rows) == page.PAGED_ROWS
    assert "1,500" in clipped.extra["clipped"]
    small = next(t for t in tables.build(sample_report(), "en") if t.key == "overdue_cases")
    assert page.clip(small, "en").extra == {}


# The renderers inside Flask, and on the real numbers


def test_language_is_the_callers_not_the_requests() -> None:
    """Inside an English request, a Chinese report is still Chinese (the CLI, the worker)."""
    from flask import Flask
    from flask_babel import Babel, gettext

    app = Flask(__name__)
    Babel(app, locale_selector=lambda: "en")
    with app.test_request_context("/?lang=en"):
        assert gettext("Web form") == "Web form"
        html = reports.render(sample_report(), "html", language="zh").decode()
    assert "网页表单" in html


def test_the_real_report_renders_in_every_format(db, demo, tmp_path: Path) -> None:
    """monthly_report over the demo database, with a few cases: every format, both languages."""
    from shared.db import utcnow
    from shared.reports.figures import monthly_report
    from tests.factories import make_case

    make_case(db, body="县城道路照明不足，晚上出行不便。", category="complaint")
    make_case(db, body="建议通渭网及时发布信息。", category="suggestion", notice_item="XC21-06")
    now = utcnow()
    local = now.astimezone(tables.SHANGHAI)
    with db.session() as session:
        report = monthly_report(session, date(local.year, local.month, 1), now=now)
    assert set(sample_report()) <= set(report), set(sample_report()) - set(report)
    assert report["received"] == 2
    for language in ("zh", "en"):
        for fmt in reports.FORMATS:
            assert reports.render(report, fmt, language=language), (fmt, language)
    path = tmp_path / "real.pdf"
    path.write_bytes(reports.render(report, "pdf"))
    text = poppler("pdftotext", str(path), "-")
    assert report["month"] in text
    assert any(office["name"] in text for office in report["by_office"].values())
