"""The report as an A4 PDF (fpdf2) with an embedded subset of a Chinese font.

The font comes from the system: ``MINYI_REPORT_FONT`` if set, else the first of Debian's CJK
fonts found (fonts-wqy-microhei, fonts-noto-cjk). fpdf2 embeds only the glyphs the report
uses. Charts are the same shapes as the html's SVG, drawn with fpdf2's primitives; tables
break across pages and repeat their header row.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fontTools.ttLib import TTCollection
from fpdf import FPDF, FontFace
from fpdf.enums import TableCellFillMode, WrapMode, XPos, YPos

from shared.reports import charts, tables
from shared.reports.page import BIG_TABLES, clip, key_figures, subtitle
from shared.reports.tables import display, translator

# fontTools, which fpdf2 uses to embed a subset of the font, logs some forty INFO lines
# ("glyf pruned" ...) for every PDF: noise in the worker's log. Its warnings still show.
logging.getLogger("fontTools").setLevel(logging.WARNING)

FONT_ENV = "MINYI_REPORT_FONT"

#: Debian's CJK fonts, most compact first; the first one present is used.
KNOWN_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # fonts-wqy-microhei
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # fonts-noto-cjk
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",  # fonts-wqy-zenhei
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",  # fonts-droid-fallback
)

MM_PER_PT = 25.4 / 72
#: Millimetres per chart unit: 12-unit chart text comes out at about 11 pt.
CHART_SCALE = 0.32
#: Table width per character of the columns' typical widths.
MM_PER_CHARACTER = 2.4
MARGIN = 14
INK = (31, 41, 51)
MUTED = (82, 96, 109)
HEADER_FILL = (31, 95, 153)
ROW_FILL = (245, 247, 250)


class FontMissing(RuntimeError):
    """No font with Chinese glyphs: the PDF cannot be made."""


def find_font() -> tuple[Path, int]:
    """The font file for the PDF and, for a collection, the face (Simplified Chinese if any)."""
    configured = os.environ.get(FONT_ENV, "").strip()
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise FontMissing(
                f"{FONT_ENV}={configured} is not a font file. Point it at a TrueType or "
                "OpenType font with Chinese glyphs, or unset it to use Debian's "
                "fonts-wqy-microhei."
            )
        return path, _face(path)
    for known in KNOWN_FONTS:
        path = Path(known)
        if path.is_file():
            return path, _face(path)
    raise FontMissing(
        "No Chinese font for the PDF report. Install Debian's package fonts-wqy-microhei "
        "(apt-get install fonts-wqy-microhei) or fonts-noto-cjk, or set "
        f"{FONT_ENV} to a TrueType/OpenType font file with Chinese glyphs."
    )


def _face(path: Path) -> int:
    """In a font collection, the Simplified Chinese face (Noto CJK puts Japanese first)."""
    if path.suffix.lower() not in (".ttc", ".otc"):
        return 0
    with TTCollection(str(path), lazy=True) as collection:
        for index, face in enumerate(collection.fonts):
            name = face["name"].getDebugName(4) or ""
            if name.endswith(" SC") or "Simplified" in name:
                return index
    return 0


class ReportPDF(FPDF):
    def __init__(self, running_title: str, page_label: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.running_title = running_title
        self.page_label = page_label
        self.set_margins(MARGIN, MARGIN + 4, MARGIN)
        self.set_auto_page_break(True, margin=MARGIN + 4)

    def header(self) -> None:
        if self.page_no() == 1:
            return
        self.set_font("cjk", size=8)
        self.set_text_color(*MUTED)
        self.set_xy(MARGIN, 8)
        self.cell(0, 5, self.running_title, align="L")
        self.set_y(MARGIN + 4)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("cjk", size=8)
        self.set_text_color(*MUTED)
        self.cell(0, 5, self.page_label % {"page": self.page_no(), "pages": "{nb}"}, align="C")


def render(report: dict[str, Any], language: str = "zh") -> bytes:
    _ = translator(language)
    font_path, face = find_font()
    title = tables.title(report, language)
    pdf = ReportPDF(title, _("Page %(page)s of %(pages)s"))
    pdf.add_font("cjk", "", str(font_path), collection_font_number=face)
    pdf.set_title(title)
    pdf.set_creator("Minyi")
    pdf.set_lang("zh-CN" if language == "zh" else "en")
    pdf.add_page()

    pdf.set_font("cjk", size=18)
    pdf.set_text_color(*INK)
    pdf.multi_cell(0, 9, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("cjk", size=9)
    pdf.set_text_color(*MUTED)
    meta = subtitle(report, language)
    pdf.multi_cell(0, 5, meta[:1000], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    _key_figures(pdf, key_figures(report, language))
    for chart in charts.build(report, language):
        _chart(pdf, chart)
    for table in tables.build(report, language):
        _table(pdf, clip(table, language), _, new_page=table.key in BIG_TABLES)
    return bytes(pdf.output())


def _key_figures(pdf: FPDF, figures: list[tuple[str, str]]) -> None:
    per_row = 4
    gap = 3
    width = (pdf.epw - gap * (per_row - 1)) / per_row
    height = 16
    start = pdf.get_y()
    for index, (label, value) in enumerate(figures):
        column, row = index % per_row, index // per_row
        x = MARGIN + column * (width + gap)
        y = start + row * (height + gap)
        pdf.set_draw_color(217, 222, 229)
        pdf.rect(x, y, width, height)
        pdf.set_xy(x + 2, y + 1.5)
        pdf.set_font("cjk", size=7.5)
        pdf.set_text_color(*MUTED)
        pdf.cell(width - 4, 4, _fit(pdf, label, width - 4))
        pdf.set_xy(x + 2, y + 6.5)
        pdf.set_font("cjk", size=14)
        pdf.set_text_color(*INK)
        pdf.cell(width - 4, 8, value)
    rows = (len(figures) + per_row - 1) // per_row
    pdf.set_xy(MARGIN, start + rows * (height + gap) + 2)


def _fit(pdf: FPDF, text: str, width: float) -> str:
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "…") > width:
        text = text[:-1]
    return text + "…"


def _rgb(colour: str) -> tuple[int, int, int]:
    colour = colour.lstrip("#")
    return int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16)


def _chart(pdf: FPDF, chart: charts.Chart) -> None:
    """Draw the chart's shapes at the current position, scaled to the page width."""
    scale = min(pdf.epw / chart.width, CHART_SCALE)
    height = chart.height * scale
    if pdf.get_y() + height + 10 > pdf.page_break_trigger:
        pdf.add_page()
    pdf.set_font("cjk", size=11)
    pdf.set_text_color(*INK)
    pdf.cell(0, 7, chart.title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    left, top = MARGIN, pdf.get_y()
    for shape in chart.shapes:
        if isinstance(shape, charts.Rect):
            pdf.set_fill_color(*_rgb(shape.fill))
            pdf.rect(
                left + shape.x * scale,
                top + shape.y * scale,
                shape.width * scale,
                shape.height * scale,
                style="F",
            )
        elif isinstance(shape, charts.Line):
            pdf.set_draw_color(*_rgb(shape.stroke))
            pdf.set_line_width(max(shape.width * scale, 0.1))
            pdf.line(
                left + shape.x1 * scale,
                top + shape.y1 * scale,
                left + shape.x2 * scale,
                top + shape.y2 * scale,
            )
        elif isinstance(shape, charts.Polyline):
            pdf.set_draw_color(*_rgb(shape.stroke))
            pdf.set_line_width(shape.width * scale)
            pdf.polyline([(left + x * scale, top + y * scale) for x, y in shape.points], style="D")
        elif isinstance(shape, charts.Text):
            pdf.set_font("cjk", size=shape.size * scale / MM_PER_PT)
            pdf.set_text_color(*_rgb(shape.fill))
            width = pdf.get_string_width(shape.text)
            x = left + shape.x * scale
            if shape.anchor == "middle":
                x -= width / 2
            elif shape.anchor == "end":
                x -= width
            pdf.text(x, top + shape.y * scale, shape.text)
    pdf.set_line_width(0.2)
    pdf.set_xy(MARGIN, top + height + 4)


def _table(pdf: FPDF, table: tables.Table, _: Callable[[str], str], *, new_page: bool) -> None:
    if new_page or pdf.get_y() + 30 > pdf.page_break_trigger:
        pdf.add_page()
    pdf.set_font("cjk", size=12)
    pdf.set_text_color(*INK)
    pdf.multi_cell(0, 7, table.title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("cjk", size=8)
    pdf.set_text_color(*MUTED)
    for note in (table.note, table.extra.get("clipped")):
        if note:
            pdf.multi_cell(0, 4.5, note, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)
    if not table.rows:
        pdf.set_font("cjk", size=9)
        pdf.cell(0, 6, _("Nothing this month."), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(2)
        return
    pdf.set_font("cjk", size=8)
    pdf.set_text_color(*INK)
    pdf.set_draw_color(200, 206, 214)
    pdf.set_line_width(0.2)
    pdf.set_fill_color(*ROW_FILL)  # the table's row shading starts from the current fill
    widths = [column.width for column in table.columns]
    with pdf.table(
        col_widths=widths,
        # A narrow table stays narrow; a wide one takes the page.
        width=min(pdf.epw, sum(widths) * MM_PER_CHARACTER),
        align="LEFT",
        text_align=["RIGHT" if column.numeric else "LEFT" for column in table.columns],
        headings_style=FontFace(emphasis="", color=(255, 255, 255), fill_color=HEADER_FILL),
        cell_fill_color=ROW_FILL,
        cell_fill_mode=TableCellFillMode.ROWS,
        line_height=4.2,
        padding=(0.8, 1.2),
        wrapmode=WrapMode.WORD,  # a Chinese run longer than the cell still breaks
        repeat_headings=1,
    ) as grid:
        heading = grid.row()
        for column in table.columns:
            heading.cell(column.label, align="LEFT")
        for values in table.rows:
            row = grid.row()
            for value in values:
                row.cell(display(value, _))
    pdf.ln(4)
