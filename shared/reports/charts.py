"""The report's charts, laid out once and drawn twice: as inline SVG (html) and on the PDF page.

A chart is a list of plain shapes (rectangles, lines, polylines, text) in its own coordinate
space; :func:`svg` writes them as SVG with the text kept as text and every string escaped,
and ``shared.reports.pdf`` draws the same shapes with fpdf2's primitives. Chart text is
clipped to fit; the full label stays in the tables.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from markupsafe import Markup, escape

from shared.reports.tables import CATEGORIES, CHANNELS, clean, translator

#: Drawn at this width: on a phone (about 360 px) the text stays readable.
WIDTH = 400
FONT_SIZE = 12
INK = "#1f2933"
MUTED = "#6b7280"
GRID = "#d9dee5"
RECEIVED_COLOUR = "#1f5f99"
REPLIED_COLOUR = "#e07b1f"


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    fill: str


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    stroke: str
    width: float = 1


@dataclass(frozen=True)
class Polyline:
    points: tuple[tuple[float, float], ...]
    stroke: str
    width: float = 2


@dataclass(frozen=True)
class Text:
    x: float
    #: The baseline.
    y: float
    text: str
    anchor: str = "start"  # start | middle | end
    size: float = FONT_SIZE
    fill: str = INK


@dataclass
class Chart:
    key: str
    title: str
    #: One sentence with the figures, for screen readers (SVG ``<desc>``).
    description: str
    width: float
    height: float
    shapes: list[Any] = field(default_factory=list)


def text_width(text: str, size: float = FONT_SIZE) -> float:
    """Roughly how wide ``text`` is: a CJK character is a full em, others about half one."""
    return sum(size if unicodedata.east_asian_width(char) in "WF" else size * 0.58 for char in text)


def fit(text: str, width: float, size: float = FONT_SIZE) -> str:
    """``text`` clipped with an ellipsis to fit ``width``."""
    text = clean(text)
    if text_width(text, size) <= width:
        return text
    while text and text_width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"


def build(report: dict[str, Any], language: str = "zh") -> list[Chart]:
    """The charts of the report, in reading order."""
    _ = translator(language)
    offices = report.get("by_office") or {}
    order = [code for code in report.get("ranking") or [] if code in offices]
    order += [code for code in offices if code not in order]
    return [
        _daily(report, _),
        _bars(
            "chart_by_office",
            _("Cases received by office"),
            [
                (clean(offices[code].get("name") or code), offices[code]["received"])
                for code in order
            ],
            _,
        ),
        _bars(
            "chart_by_channel",
            _("Cases by channel"),
            [
                (_(CHANNELS[code]) if code in CHANNELS else clean(code), count)
                for code, count in (report.get("by_channel") or {}).items()
            ],
            _,
        ),
        _bars(
            "chart_by_category",
            _("Cases by category"),
            [
                (_(CATEGORIES[code]) if code in CATEGORIES else clean(code), count)
                for code, count in (report.get("by_category") or {}).items()
            ],
            _,
        ),
    ]


def _bars(key: str, title: str, values: list[tuple[str, int]], _: Callable[[str], str]) -> Chart:
    """Horizontal bars, one per label, the count at the end of each bar."""
    row_height, bar_height, top = 26, 16, 6
    chart = Chart(key, title, "", WIDTH, top * 2 + row_height * max(len(values), 1))
    chart.description = "; ".join(f"{label}: {count}" for label, count in values) or _("No cases.")
    if not values:
        chart.shapes.append(Text(WIDTH / 2, top + 18, _("No cases."), "middle", fill=MUTED))
        return chart
    label_width = min(max(text_width(label) for label, _count in values), 120)
    bar_left = label_width + 12
    value_room = text_width(f"{max(count for _label, count in values):,}") + 10
    bar_room = WIDTH - bar_left - value_room
    largest = max(count for _label, count in values) or 1
    chart.shapes.append(Line(bar_left, top, bar_left, chart.height - top, GRID))
    for index, (label, count) in enumerate(values):
        y = top + index * row_height
        baseline = y + row_height / 2 + FONT_SIZE * 0.35
        chart.shapes.append(Text(label_width, baseline, fit(label, label_width), "end"))
        length = bar_room * count / largest
        if length:
            chart.shapes.append(
                Rect(
                    bar_left, y + (row_height - bar_height) / 2, length, bar_height, RECEIVED_COLOUR
                )
            )
        chart.shapes.append(Text(bar_left + length + 5, baseline, f"{count:,}", fill=MUTED))
    return chart


def _daily(report: dict[str, Any], _: Callable[[str], str]) -> Chart:
    """Cases received and first replies sent, day by day, as two lines."""
    days = report.get("daily") or []
    height, left, right, top, bottom = 200, 34, 10, 30, 24
    chart = Chart("chart_daily", _("Day by day"), "", WIDTH, height)
    received_label, replied_label = _("Cases received"), _("Cases given a first reply")
    chart.description = _("%(received)s received and %(replied)s replied over %(days)s days.") % {
        "received": sum(day["received"] for day in days),
        "replied": sum(day["replied"] for day in days),
        "days": len(days),
    }
    largest = max([day["received"] for day in days] + [day["replied"] for day in days] + [1])
    step = _nice_step(largest / 4)
    top_value = step * math.ceil(largest / step)
    plot_width, plot_height = WIDTH - left - right, height - top - bottom

    def x_of(index: int) -> float:
        return left + (plot_width * index / (len(days) - 1) if len(days) > 1 else plot_width / 2)

    def y_of(value: float) -> float:
        return top + plot_height * (1 - value / top_value)

    tick = 0
    while tick <= top_value:
        y = y_of(tick)
        chart.shapes.append(Line(left, y, WIDTH - right, y, GRID))
        chart.shapes.append(Text(left - 6, y + 4, f"{tick:,}", "end", 11, MUTED))
        tick += step
    for index, day in enumerate(days):
        number = date.fromisoformat(day["date"]).day
        if number == 1 or number % 5 == 0:
            chart.shapes.append(Text(x_of(index), height - 10, str(number), "middle", 11, MUTED))
    for key, colour in (("received", RECEIVED_COLOUR), ("replied", REPLIED_COLOUR)):
        points = tuple((x_of(index), y_of(day[key])) for index, day in enumerate(days))
        if points:
            chart.shapes.append(Polyline(points, colour))
    # The legend, above the plot.
    x = left
    for label, colour in ((received_label, RECEIVED_COLOUR), (replied_label, REPLIED_COLOUR)):
        chart.shapes.append(Rect(x, 10, 14, 4, colour))
        chart.shapes.append(Text(x + 20, 16, label, size=11))
        x += 20 + text_width(label, 11) + 24
    return chart


def _nice_step(raw: float) -> int:
    """A round step for the axis: 1, 2 or 5 times a power of ten."""
    if raw <= 1:
        return 1
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return int(factor * power)
    return int(10 * power)


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def svg(chart: Chart) -> Markup:
    """The chart as inline, accessible SVG; every piece of text escaped."""
    ident = f"report-{chart.key}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="report-chart" role="img" '
        f'aria-labelledby="{ident}-title {ident}-desc" '
        f'viewBox="0 0 {_n(chart.width)} {_n(chart.height)}" '
        f'width="{_n(chart.width)}" height="{_n(chart.height)}" '
        f'preserveAspectRatio="xMinYMin meet">',
        f'<title id="{ident}-title">{escape(chart.title)}</title>',
        f'<desc id="{ident}-desc">{escape(chart.description)}</desc>',
    ]
    for shape in chart.shapes:
        if isinstance(shape, Rect):
            parts.append(
                f'<rect x="{_n(shape.x)}" y="{_n(shape.y)}" width="{_n(shape.width)}" '
                f'height="{_n(shape.height)}" fill="{shape.fill}"/>'
            )
        elif isinstance(shape, Line):
            parts.append(
                f'<line x1="{_n(shape.x1)}" y1="{_n(shape.y1)}" x2="{_n(shape.x2)}" '
                f'y2="{_n(shape.y2)}" stroke="{shape.stroke}" stroke-width="{_n(shape.width)}"/>'
            )
        elif isinstance(shape, Polyline):
            points = " ".join(f"{_n(x)},{_n(y)}" for x, y in shape.points)
            parts.append(
                f'<polyline points="{points}" fill="none" stroke="{shape.stroke}" '
                f'stroke-width="{_n(shape.width)}" stroke-linejoin="round"/>'
            )
        elif isinstance(shape, Text):
            parts.append(
                f'<text x="{_n(shape.x)}" y="{_n(shape.y)}" text-anchor="{shape.anchor}" '
                f'font-size="{_n(shape.size)}" fill="{shape.fill}">{escape(shape.text)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 -- every text above went through escape()
