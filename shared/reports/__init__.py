"""The monthly report: its figures, its files, its archive and its mail. One module a concern:

- :mod:`~shared.reports.months`: Asia/Shanghai months (parse ``YYYY-MM``, the current and the
  last completed month, a month as an instant range);
- :mod:`~shared.reports.figures`: :func:`monthly_report`, every figure counted in SQL, as a
  JSON-ready dict (with the comparison to earlier months);
- :mod:`~shared.reports.words`: the month's most frequent words (jieba);
- :mod:`~shared.reports.definitions`: what each figure counts, in words (``definitions``);
- :mod:`~shared.reports.scope`: whose report (the department, one office, their own offices);
- :mod:`~shared.reports.archive`: the report as staff get it, a completed month from the
  archive (the same bytes ever after), the month in progress live;
- :mod:`~shared.reports.schedule`: the mail on the 1st (and ``minyi report --send``);
- the formats, here: json, csv, xlsx, html and pdf rendered from the figures' dict by
  :func:`render`. Every format draws the same tables (:mod:`~shared.reports.tables`) and the
  same charts (:mod:`~shared.reports.charts`); ``csvfile``, ``workbook``, ``page`` and ``pdf``
  write them. Rendering needs no Flask request: the language is given explicitly and the
  labels come from the project's catalogue directly.

The figures import nothing from the files and the files nothing from the figures: a format
reads only the dict.
"""

from __future__ import annotations

import json
import re
from typing import Any

from markupsafe import Markup

from shared.reports import csvfile, page, pdf, tables, workbook
from shared.reports.pdf import FontMissing

__all__ = ["FORMATS", "FontMissing", "content_type", "filename", "render", "report_fragment"]

FORMATS = ("json", "csv", "xlsx", "html", "pdf")

CONTENT_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}

_UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9_-]+")


def _check(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}: use one of {', '.join(FORMATS)}")
    return fmt


def render(report: dict[str, Any], fmt: str, *, language: str = "zh") -> bytes:
    """The report as a file of format ``fmt``, labels in ``language`` ("zh" or "en")."""
    _check(fmt)
    tables.translator(language)  # an unknown language fails here, for every format
    if fmt == "json":
        return json.dumps(report, ensure_ascii=False, indent=2).encode("utf-8")
    if fmt == "csv":
        return csvfile.render(report, language)
    if fmt == "xlsx":
        return workbook.render(report, language)
    if fmt == "html":
        return page.page(report, language).encode("utf-8")
    return pdf.render(report, language)


def content_type(fmt: str) -> str:
    return CONTENT_TYPES[_check(fmt)]


def filename(report: dict[str, Any], fmt: str) -> str:
    """``minyi-report-2026-10.xlsx``; with the office codes when the report is limited to some."""
    _check(fmt)
    parts = ["minyi-report", report["month"]]
    offices = (report.get("scope") or {}).get("offices")
    if offices:
        codes = "-".join(_UNSAFE_IN_FILENAME.sub("_", str(code)) for code in offices)
        parts.append(codes[:80])
    return "-".join(parts) + "." + fmt


def report_fragment(report: dict[str, Any], *, language: str = "zh") -> Markup:
    """The tables and inline SVG charts as HTML, inside ``<section class="report">``."""
    return page.fragment(report, language)
