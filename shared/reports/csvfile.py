"""The report as one CSV file: every table after the other, for Excel and for scripts.

UTF-8 with a byte order mark (Excel then reads Chinese right); each table is preceded by its
title row and followed by a blank line. A text cell a spreadsheet would run as a formula
(=, +, -, @ first) is quoted as text, as the queue's CSV export does; numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from shared.db import SHANGHAI
from shared.reports import tables
from shared.reports.tables import Change, Percent, Points

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def no_formula(value: str) -> str:
    """A cell a spreadsheet would run as a formula is quoted as text."""
    return "'" + value if value[:1] in FORMULA_STARTS else value


def cell(value: Any, _: Callable[[str], str]) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, Percent):
        return f"{value * 100:.2f}%"
    if isinstance(value, Change):
        return f"{value * 100:+.2f}%"
    if isinstance(value, Points):
        return _("%(points)s pp") % {"points": f"{value * 100:+.2f}"}
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return value
    if isinstance(value, datetime):
        return f"{value.astimezone(SHANGHAI):%Y-%m-%d %H:%M}"
    if isinstance(value, date):
        return value.isoformat()
    return no_formula(str(value))


def render(report: dict[str, Any], language: str = "zh") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    _ = tables.translator(language)
    writer.writerow([no_formula(tables.title(report, language))])
    writer.writerow([])
    for table in tables.build(report, language):
        writer.writerow([no_formula(table.title)])
        if table.note:
            writer.writerow([no_formula(table.note)])
        writer.writerow([no_formula(column.label) for column in table.columns])
        writer.writerows([cell(value, _) for value in row] for row in table.rows)
        writer.writerow([])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
