"""The report as HTML: a fragment (tables and inline SVG charts) and a standalone page.

Jinja with autoescape renders every data string (office names, words and cluster labels come
from citizens' texts). The environment is our own, one per language, so the page renders the
same inside a Flask request, in the worker and in the CLI.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from shared.reports import charts, tables
from shared.reports.tables import display, parse_time, percent, translator

TEMPLATES = Path(__file__).parent / "templates"

#: Rows of one table the paged formats (html, pdf) show; csv, xlsx and json hold them all.
PAGED_ROWS = 1000

#: Tables that start on a new printed page.
BIG_TABLES = frozenset({"by_office", "by_item", "daily", "overdue_cases", "definitions"})

HTML_LANG = {"zh": "zh-CN", "en": "en"}


@cache
def _environment(language: str) -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    gettext = translator(language)
    environment.install_gettext_callables(
        gettext, lambda singular, plural, n: gettext(singular if n == 1 else plural), newstyle=True
    )
    return environment


@cache
def _css() -> Markup:
    # Our own file, no data in it: safe to place in the <style> element as it is.
    return Markup((TEMPLATES / "report.css").read_text(encoding="utf-8"))  # noqa: S704


def clip(table: tables.Table, language: str) -> tables.Table:
    """The table with at most :data:`PAGED_ROWS` rows, saying how many were left out."""
    if len(table.rows) <= PAGED_ROWS:
        return table
    _ = translator(language)
    table.extra["clipped"] = _(
        "The first %(shown)s of %(total)s rows; the csv and xlsx files hold them all."
    ) % {"shown": f"{PAGED_ROWS:,}", "total": f"{len(table.rows):,}"}
    table.rows = table.rows[:PAGED_ROWS]
    return table


def key_figures(report: dict[str, Any], language: str) -> list[tuple[str, str]]:
    _ = translator(language)
    return [
        (
            _(tables.FIGURES[key]),
            display(percent(report.get(key)) if key in tables.RATE_FIGURES else report.get(key), _),
        )
        for key in (
            "received",
            "replied",
            "on_time_rate",
            "satisfaction_rate",
            "closed",
            "overdue_open",
            "backlog",
        )
    ]


def subtitle(report: dict[str, Any], language: str) -> str:
    """Scope, period and generation time on one line, under the title."""
    _ = translator(language)
    period_text = tables.period(report)
    generated = display(parse_time(report.get("generated_at")), _)
    return " · ".join(
        [tables.scope_label(report, language), period_text, f"{_('Generated')} {generated}"]
    )


def fragment(report: dict[str, Any], language: str = "zh") -> Markup:
    _ = translator(language)
    template = _environment(language).get_template("report_fragment.html")
    html = template.render(
        html_lang=HTML_LANG[language],
        css=_css(),
        title=tables.title(report, language),
        subtitle=subtitle(report, language),
        kpis=key_figures(report, language),
        charts=charts.build(report, language),
        svg=charts.svg,
        tables=[clip(table, language) for table in tables.build(report, language)],
        big=BIG_TABLES,
        display=lambda value: display(value, _),
    )
    return Markup(html)  # noqa: S704 -- rendered by Jinja with autoescape


def page(report: dict[str, Any], language: str = "zh") -> str:
    """One self-contained HTML file: inline style and charts, no scripts, nothing fetched."""
    template = _environment(language).get_template("report_page.html")
    return template.render(
        html_lang=HTML_LANG[language],
        title=tables.title(report, language),
        fragment=fragment(report, language),
    )
