"""The monthly report as tables: headers and rows, labels translated, in one place.

Every format (csv, xlsx, html, pdf) draws these tables, so a figure has the same name, the
same place and the same value wherever a reader meets it. Cells keep their type: ``int``,
``float`` (days), :class:`Percent` (a share), :class:`Change` (a count's relative change),
:class:`Points` (a rate's change, in percentage points), ``date``, ``datetime`` (shown in
Asia/Shanghai), ``str`` or ``None`` (nothing to show). Each renderer formats them its own way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from babel import support

from shared.db import SHANGHAI
from shared.i18n import LANGUAGES, N_, TRANSLATIONS_DIR

#: Longest text a cell shows in html and pdf; csv, xlsx and json keep the whole of it.
MAX_SHOWN_TEXT = 200

#: Characters no reader can see and some formats cannot hold (XML forbids most of C0).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_BREAKS = re.compile(r"[\t\r\n\u2028\u2029]+")


class Percent(float):
    """A share between 0 and 1, shown as a percentage."""


class Change(float):
    """A count's change relative to an earlier month (``value / previous - 1``)."""


class Points(float):
    """A rate's change: the difference of two shares, shown in percentage points."""


@dataclass(frozen=True)
class Column:
    label: str
    #: A typical width in characters (a CJK character counts two), for xlsx and pdf.
    width: int = 10
    numeric: bool = False
    #: Keep on one line (dates, codes).
    nowrap: bool = False


@dataclass
class Table:
    #: Stable name, e.g. ``"by_office"``: element ids, test look-ups.
    key: str
    title: str
    columns: list[Column]
    rows: list[list[Any]]
    #: The sheet (xlsx) or section (html) the table belongs to.
    sheet: str
    #: A sentence under the title, e.g. how many case texts the words come from.
    note: str = ""
    #: The first column names the row (a figure, a channel): shown as a header cell.
    row_headers: bool = True
    #: Rows left out of the paged formats (html, pdf): they are all in csv, xlsx and json.
    extra: dict[str, Any] = field(default_factory=dict)


@cache
def _catalogue(language: str) -> support.NullTranslations:
    return support.Translations.load(str(TRANSLATIONS_DIR), [language])


def translator(language: str) -> Callable[[str], str]:
    """``gettext`` for ``language`` from the project's catalogue, without Flask."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown report language {language!r}: use one of {LANGUAGES}")
    return _catalogue(language).gettext


def clean(value: Any) -> str:
    """A data string fit for every format: control characters dropped, breaks as spaces."""
    if value is None:
        return ""
    return _CONTROL.sub("", _LINE_BREAKS.sub(" ", str(value)))


def parse_time(value: str | None) -> datetime | None:
    """An ISO timestamp from the report, in Asia/Shanghai."""
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=SHANGHAI)
    return moment.astimezone(SHANGHAI)


def percent(value: float | None) -> Percent | None:
    return None if value is None else Percent(value)


def display(value: Any, _: Callable[[str], str]) -> str:
    """A cell as a reader sees it in html and pdf (a very long text clipped)."""
    if value is None:
        return "—"
    if isinstance(value, Percent):
        return f"{value * 100:.1f}%"
    if isinstance(value, Change):
        return f"{value * 100:+.1f}%"
    if isinstance(value, Points):
        return _("%(points)s pp") % {"points": f"{value * 100:+.1f}"}
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, datetime):
        return f"{value.astimezone(SHANGHAI):%Y-%m-%d %H:%M}"
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    # A "word" of thousands of characters (a pasted URL, a hostile name) would fill pages.
    return text if len(text) <= MAX_SHOWN_TEXT else text[: MAX_SHOWN_TEXT - 1] + "…"


# Labels: English msgids, translated when the tables are built.

FIGURES = {
    "month": N_("Month"),
    "scope": N_("Offices covered"),
    "period": N_("Period"),
    "generated_at": N_("Generated"),
    "received": N_("Cases received"),
    "spam": N_("Spam"),
    "duplicates": N_("Duplicates"),
    "replied": N_("Cases given a first reply"),
    "on_time": N_("Replied on time"),
    "on_time_rate": N_("On-time reply rate"),
    "median_reply_days": N_("Days to first reply (median)"),
    "mean_reply_days": N_("Days to first reply (mean)"),
    "closed": N_("Cases closed"),
    "completed_on_time_rate": N_("On-time completion rate"),
    "median_close_days": N_("Days to close (median)"),
    "mean_close_days": N_("Days to close (mean)"),
    "overdue_open": N_("Open and overdue at month end"),
    "backlog": N_("Backlog at month end"),
    "satisfaction_rate": N_("Satisfaction rate"),
    "ratings": N_("Ratings"),
    "reopened": N_("Reopened for re-handling"),
    "extended": N_("Extensions granted"),
}

CHANNELS = {
    "web": N_("Web form"),
    "api": N_("API"),
    "email": N_("Email"),
    "phone": N_("Phone"),
    "post": N_("Letter"),
    "letter": N_("Letter"),
    "visit": N_("Visit"),
}

CATEGORIES = {
    "suggestion": N_("Suggestion"),
    "complaint": N_("Complaint"),
    "report": N_("Report of wrongdoing"),
    "inquiry": N_("Question"),
    "praise": N_("Praise"),
    "none": N_("No category"),
}

#: How the report tells a case's state at month end (shared.reports.figures).
MONTH_END_STATUSES = {
    "waiting": N_("Not yet accepted"),
    "in_progress": N_("Being handled"),
    "answered": N_("Answered"),
    "closed": N_("Closed"),
}

RATINGS = {
    "satisfied": N_("Satisfied"),
    "basically_satisfied": N_("Basically satisfied"),
    "unsatisfied": N_("Not satisfied"),
}

CLUSTER_KINDS = {"duplicate": N_("Duplicate"), "campaign": N_("Campaign")}

SHEETS = {
    "summary": N_("Summary"),
    "by_office": N_("By office"),
    "by_channel": N_("By channel"),
    "by_category": N_("By category"),
    "by_item": N_("By notice item"),
    "daily": N_("Daily"),
    "words": N_("Top words"),
    "clusters": N_("Clusters"),
    "overdue": N_("Overdue cases"),
    "definitions": N_("Definitions"),
}

#: The order of the summary's figures (after month, scope, period and generation time).
SUMMARY_FIGURES = (
    "received",
    "spam",
    "duplicates",
    "replied",
    "on_time",
    "on_time_rate",
    "median_reply_days",
    "mean_reply_days",
    "closed",
    "completed_on_time_rate",
    "median_close_days",
    "mean_close_days",
    "overdue_open",
    "backlog",
    "satisfaction_rate",
    "reopened",
    "extended",
)
RATE_FIGURES = frozenset({"on_time_rate", "satisfaction_rate", "completed_on_time_rate"})
CHANGE_METRICS = ("received", "replied", "on_time_rate", "satisfaction_rate", "overdue_open")


def title(report: dict[str, Any], language: str) -> str:
    _ = translator(language)
    return _("Monthly report on public feedback, %(month)s") % {"month": report["month"]}


def scope_label(report: dict[str, Any], language: str) -> str:
    """The offices the report covers, by name; the whole department when not limited."""
    _ = translator(language)
    scope = report.get("scope") or {}
    if not scope.get("offices"):
        return _("All offices")
    separator = "、" if language == "zh" else ", "
    return separator.join(clean(name) for name in scope.get("names") or scope["offices"])


def period(report: dict[str, Any]) -> str:
    """The month's first and last day; its end is the next month's first moment."""
    bounds = report.get("period") or {}
    start, end = parse_time(bounds.get("start")), parse_time(bounds.get("end"))
    if not (start and end):
        return report["month"]
    return f"{start:%Y-%m-%d} – {end - timedelta(days=1):%Y-%m-%d}"


def office_names(report: dict[str, Any]) -> dict[str, str]:
    return {code: clean(row.get("name") or code) for code, row in report["by_office"].items()}


def build(report: dict[str, Any], language: str = "zh") -> list[Table]:
    """Every table of the report, in reading order."""
    _ = translator(language)
    return [
        _summary(report, _, language),
        _ratings(report, _),
        _status(report, _),
        _change(report, _),
        _by_office(report, _),
        _counts(report, _, "by_channel", N_("Cases by channel"), N_("Channel"), CHANNELS),
        _counts(report, _, "by_category", N_("Cases by category"), N_("Category"), CATEGORIES),
        _by_item(report, _),
        _daily(report, _),
        _words(report, _),
        _clusters(report, _),
        _overdue(report, _),
        _definitions(report, _),
    ]


def _summary(report: dict[str, Any], _: Callable[[str], str], language: str) -> Table:
    period_text = period(report)
    rows: list[list[Any]] = [
        [_(FIGURES["month"]), report["month"]],
        [_(FIGURES["scope"]), scope_label(report, language)],
        [_(FIGURES["period"]), period_text],
        [_(FIGURES["generated_at"]), parse_time(report.get("generated_at"))],
    ]
    for key in SUMMARY_FIGURES:
        value = report.get(key)
        rows.append([_(FIGURES[key]), percent(value) if key in RATE_FIGURES else value])
    return Table(
        key="summary",
        title=_("Summary"),
        columns=[Column(_("Figure"), 30), Column(_("Value"), 24, numeric=True)],
        rows=rows,
        sheet="summary",
    )


def _ratings(report: dict[str, Any], _: Callable[[str], str]) -> Table:
    ratings = report.get("ratings") or {}
    total = sum(ratings.values())
    return Table(
        key="ratings",
        title=_("Satisfaction ratings given in the month"),
        columns=[
            Column(_("Rating"), 30),
            Column(_("Ratings"), 10, True),
            Column(_("Share"), 10, True),
        ],
        rows=[
            [_(RATINGS.get(key, key)), count, Percent(count / total) if total else None]
            for key, count in ratings.items()
        ],
        sheet="summary",
    )


def _status(report: dict[str, Any], _: Callable[[str], str]) -> Table:
    return Table(
        key="status_at_month_end",
        title=_("Cases by status at month end"),
        columns=[Column(_("Status"), 30), Column(_("Cases"), 10, True)],
        rows=[
            [_(MONTH_END_STATUSES.get(key, key)), count]
            for key, count in (report.get("status_at_month_end") or {}).items()
        ],
        sheet="summary",
    )


def _change(report: dict[str, Any], _: Callable[[str], str]) -> Table:
    rows = []
    for metric in CHANGE_METRICS:
        change = (report.get("change") or {}).get(metric)
        if change is None:
            continue
        if metric in RATE_FIGURES:
            values = [percent(change.get(key)) for key in ("value", "previous_month")]
            rates = [_points(change.get("month_over_month"))]
            year = [percent(change.get("previous_year")), _points(change.get("year_over_year"))]
        else:
            values = [change.get("value"), change.get("previous_month")]
            rates = [_relative(change.get("month_over_month"))]
            year = [change.get("previous_year"), _relative(change.get("year_over_year"))]
        rows.append([_(FIGURES[metric]), *values, *rates, *year])
    return Table(
        key="change",
        title=_("Compared with the previous month and the same month last year"),
        columns=[
            Column(_("Figure"), 30),
            Column(_("This month"), 11, True),
            Column(_("Previous month"), 11, True),
            Column(_("Month on month"), 11, True),
            Column(_("Same month last year"), 11, True),
            Column(_("Year on year"), 11, True),
        ],
        rows=rows,
        sheet="summary",
        note=_("Counts change in per cent; rates change in percentage points."),
    )


def _points(value: float | None) -> Points | None:
    return None if value is None else Points(value)


def _relative(value: float | None) -> Change | None:
    return None if value is None else Change(value)


def _by_office(report: dict[str, Any], _: Callable[[str], str]) -> Table:
    offices = report["by_office"]
    order = [code for code in report.get("ranking") or [] if code in offices]
    order += sorted(code for code in offices if code not in order)
    rows = []
    for code in order:
        office = offices[code]
        rows.append(
            [
                office.get("rank"),
                clean(office.get("name") or code),
                clean(code),
                office.get("received"),
                office.get("replied"),
                office.get("on_time"),
                office.get("overdue_open"),
                percent(office.get("on_time_rate")),
                percent(office.get("satisfaction_rate")),
            ]
        )
    return Table(
        key="by_office",
        title=_("Offices, best first"),
        columns=[
            Column(_("Rank"), 6, True),
            Column(_("Office"), 22),
            Column(_("Office code"), 12),
            Column(_("Cases received"), 10, True),
            Column(_("Cases given a first reply"), 10, True),
            Column(_("Replied on time"), 10, True),
            Column(_("Open and overdue at month end"), 10, True),
            Column(_("On-time reply rate"), 10, True),
            Column(_("Satisfaction rate"), 10, True),
        ],
        rows=rows,
        sheet="by_office",
        row_headers=False,
    )


def _counts(
    report: dict[str, Any],
    _: Callable[[str], str],
    key: str,
    table_title: str,
    label: str,
    labels: dict[str, str],
) -> Table:
    counts = report.get(key) or {}
    total = sum(counts.values())
    return Table(
        key=key,
        title=_(table_title),
        columns=[Column(_(label), 24), Column(_("Cases"), 10, True), Column(_("Share"), 10, True)],
        rows=[
            [_(labels[code]) if code in labels else clean(code), count, _share(count, total)]
            for code, count in counts.items()
        ],
        sheet=key,
    )


def _share(count: int, total: int) -> Percent | None:
    return Percent(round(count / total, 4)) if total else None


def _by_item(report: dict[str, Any], _: Callable[[str], str]) -> Table:
    items = report.get("items") or {}
    counts = report.get("by_item") or {}
    total = report.get("received") or 0
    rows = []
    for code, count in counts.items():
        item = items.get(code) or {}
        rows.append(
            [
                clean(code),
                clean(item.get("title")),
                clean(item.get("area")),
                count,
                _share(count, total),
            ]
        )
    return Table(
        key="by_item",
        title=_("Cases by notice item"),
        columns=[
            Column(_("Item"), 10, nowrap=True),
            Column(_("Title"), 50),
            Column(_("Area"), 36),
            Column(_("Cases"), 8, True),
            Column(_("Share"), 8, True),
        ],
        rows=rows,
        sheet="by_item",
        note=_("Share of all cases received in the month."),
    )


def _daily(report: dict[str, Any], _: Callable[[str], str]) -> Table:
    return Table(
        key="daily",
        title=_("Day by day"),
        columns=[
            Column(_("Date"), 12, nowrap=True),
            Column(_("Cases received"), 10, True),
            Column(_("Cases given a first reply"), 10, True),
        ],
        rows=[
            [date.fromisoformat(day["date"]), day["received"], day["replied"]]
            for day in report.get("daily") or []
        ],
        sheet="daily",
    )


def _words(report: dict[str, Any], _: Callable[[str], str]) -> Table:
    words_from = report.get("words_from") or {}
    return Table(
        key="top_words",
        title=_("Most frequent words"),
        columns=[Column(_("Rank"), 6, True), Column(_("Word"), 20), Column(_("Count"), 10, True)],
        rows=[
            [rank, clean(word["word"]), word["count"]]
            for rank, word in enumerate(report.get("top_words") or [], start=1)
        ],
        sheet="words",
        note=_("From %(cases)s of %(of)s case texts.")
        % {"cases": words_from.get("cases", 0), "of": words_from.get("of", 0)},
        row_headers=False,
    )


def _clusters(report: dict[str, Any], _: Callable[[str], str]) -> Table:
    return Table(
        key="clusters",
        title=_("Duplicates and campaigns"),
        columns=[
            Column(_("Cluster"), 8, True),
            Column(_("Kind"), 12),
            Column(_("Label"), 50),
            Column(_("Cases"), 8, True),
        ],
        rows=[
            [
                cluster["id"],
                _(CLUSTER_KINDS[cluster["kind"]])
                if cluster["kind"] in CLUSTER_KINDS
                else clean(cluster["kind"]),
                clean(cluster["label"]),
                cluster["cases"],
            ]
            for cluster in report.get("clusters") or []
        ],
        sheet="clusters",
        note=_("Groups with at least two cases received in the month."),
        row_headers=False,
    )


def _overdue(report: dict[str, Any], _: Callable[[str], str]) -> Table:
    names = office_names(report)
    rows = []
    for case in report.get("overdue_cases") or []:
        office = case.get("office")
        rows.append(
            [
                clean(case["tracking_number"]),
                names.get(office, clean(office)) if office else _("Not routed"),
                clean(case["item"]) if case.get("item") else None,
                parse_time(case.get("received_at")),
                parse_time(case.get("reply_due")),
                case.get("days_overdue"),
                _(MONTH_END_STATUSES[case["status"]])
                if case.get("status") in MONTH_END_STATUSES
                else clean(case.get("status")),
            ]
        )
    return Table(
        key="overdue_cases",
        title=_("Open and overdue at month end"),
        columns=[
            Column(_("Tracking number"), 14, nowrap=True),
            Column(_("Office"), 18),
            Column(_("Item"), 10, nowrap=True),
            Column(_("Received at"), 17, nowrap=True),
            Column(_("Reply due"), 17, nowrap=True),
            Column(_("Days overdue"), 8, True),
            Column(_("Status"), 12),
        ],
        rows=rows,
        sheet="overdue",
        note=_("Most overdue first."),
    )


def _definitions(report: dict[str, Any], _: Callable[[str], str]) -> Table:
    return Table(
        key="definitions",
        title=_("How each figure is counted"),
        columns=[Column(_("Figure"), 30), Column(_("Definition"), 90)],
        rows=[
            [_(FIGURES[key]) if key in FIGURES else clean(key), _(clean(sentence))]
            for key, sentence in (report.get("definitions") or {}).items()
        ],
        sheet="definitions",
    )
