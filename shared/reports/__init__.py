"""The monthly report, rendered: json, csv, xlsx, html and pdf from the dict of
``shared.operations.reports.monthly_report``.

Every format draws the same tables (:mod:`shared.reports.tables`) and the same charts
(:mod:`shared.reports.charts`). Rendering needs no Flask request: the language is given
explicitly and the labels come from the project's catalogue directly.
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
