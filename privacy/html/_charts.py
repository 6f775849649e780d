"""The charts: one bar chart per table, drawn as inline SVG, with its caption and the numbers
as a table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

import pandas as pd

from privacy.html._cells import _dims, _is_total_row, _moe, _records, _value
from privacy.html._format import _humanise, _marker, _num
from privacy.model import SUPPRESSED, TABLES, TOTAL, TableSpec

CHARTS: tuple[str, ...] = (
    "by_exploitation",
    "by_region",
    "by_gender",
    "by_age_band",
    "status_at_cutoff",
    "hotline_by_caller",
    "labour_by_industry",
)
"""The tables drawn as charts, in the order of the centre's annual report."""


@dataclass(frozen=True)
class _Bar:
    label_en: str
    label_da: str
    count: int | None
    display: str
    moe: float | None
    suppressed: bool


def _bars(name: str, table: pd.DataFrame) -> tuple[list[_Bar], list[str], Any]:
    """The rows to draw (zeros are listed in the caption instead, to keep charts short), the
    labels of the zero rows, and the total row."""
    spec = TABLES.get(name)
    dims = _dims(name, table)
    dim = dims[0]
    bars: list[_Bar] = []
    zeros: list[str] = []
    total = None
    for row in _records(table):
        if _is_total_row(row, dims):
            if all(str(row[d]) == TOTAL for d in dims):
                total = row
            continue
        code = row[dim]
        en, da = _labels(spec, dim, code)
        count = _value(row)
        if count == 0 and not _moe(row):
            zeros.append(en)
            continue
        bars.append(
            _Bar(
                label_en=en,
                label_da=da,
                count=count,
                display=str(row.get("display", "")),
                moe=_moe(row),
                suppressed=str(row.get("status")) == SUPPRESSED,
            )
        )
    return bars, zeros, total


def _labels(spec: TableSpec | None, dim: str, code: Any) -> tuple[str, str]:
    if spec is None:
        return str(code), str(code)
    try:
        d = spec.dimension(dim)
    except KeyError:
        return str(code), str(code)
    return d.label(code, "en"), d.label(code, "da")


def _nice_step(top: float) -> float:
    if top <= 0:
        return 1.0
    raw = top / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return float(factor * magnitude)
    return float(10 * magnitude)


def _svg(fig_id: str, title: str, bars: list[_Bar], unit: str) -> str:
    width, label_w, x0, x1 = 760, 250, 262, 640
    top, row_h = 30, 38
    height = top + row_h * max(len(bars), 1) + 10
    extent = max([(b.count or 0) + (b.moe or 0) for b in bars] + [1])
    step = _nice_step(extent)
    axis_max = step * math.ceil(extent / step)

    def x(v: float) -> float:
        return x0 + (x1 - x0) * max(v, 0.0) / axis_max

    desc = "; ".join(
        f"{b.label_en}: {'suppressed' if b.suppressed else b.display}"
        + (f" ± {_num(round(b.moe, 1))}" if b.moe else "")
        for b in bars
    )
    out = [
        f'<svg viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{fig_id}-t {fig_id}-d" preserveAspectRatio="xMinYMin meet">',
        f'<title id="{fig_id}-t">{escape(title)}</title>',
        f'<desc id="{fig_id}-d">{escape(desc or "No data")}</desc>',
    ]
    tick = 0.0
    while tick <= axis_max + 1e-9:
        tx = x(tick)
        out.append(
            f'<line x1="{tx:.1f}" y1="{top - 6}" x2="{tx:.1f}" y2="{height - 6}" '
            'stroke="#d9dce3" stroke-width="1"/>'
            f'<text x="{tx:.1f}" y="{top - 12}" font-size="11" fill="#5b6170" '
            f'text-anchor="middle">{_num(round(tick, 2))}</text>'
        )
        tick += step
    out.append(
        f'<text x="{x1 + 8}" y="{top - 12}" font-size="11" fill="#5b6170">{escape(unit)}</text>'
    )
    for i, b in enumerate(bars):
        y = top + i * row_h
        out.append(
            f'<text x="{label_w}" y="{y + 16}" font-size="13" fill="#1f2430" '
            f'text-anchor="end">{escape(b.label_en)}</text>'
            f'<text x="{label_w}" y="{y + 31}" font-size="11" fill="#5b6170" '
            f'font-style="italic" text-anchor="end" lang="da">{escape(b.label_da)}</text>'
        )
        if b.count is None:
            out.append(
                f'<rect class="hidden-cell" x="{x0}" y="{y + 8}" width="14" height="20" '
                'fill="none" stroke="#9a9fab" stroke-dasharray="3 2"/>'
                f'<text x="{x0 + 22}" y="{y + 23}" font-size="13" fill="#5b6170">'
                f"{escape(b.display)} (suppressed)</text>"
            )
            continue
        bw = max(x(b.count) - x0, 1.5 if b.count > 0 else 0.0)
        out.append(
            f'<rect class="bar" x="{x0}" y="{y + 8}" width="{bw:.1f}" height="20" '
            f'fill="#2f6f8f"><title>{escape(b.label_en)}: {escape(b.display)}</title></rect>'
        )
        end = x0 + bw
        if b.moe:
            lo, hi = x(b.count - b.moe), x(b.count + b.moe)
            out.append(
                f'<g class="moe" stroke="#1f2430" stroke-width="1.5">'
                f'<line x1="{lo:.1f}" y1="{y + 18}" x2="{hi:.1f}" y2="{y + 18}"/>'
                f'<line x1="{lo:.1f}" y1="{y + 12}" x2="{lo:.1f}" y2="{y + 24}"/>'
                f'<line x1="{hi:.1f}" y1="{y + 12}" x2="{hi:.1f}" y2="{y + 24}"/></g>'
            )
            end = max(end, hi)
        label = escape(b.display) + (f" ± {_num(round(b.moe, 1))}" if b.moe else "")
        out.append(
            f'<text x="{end + 6:.1f}" y="{y + 23}" font-size="13" font-weight="600" '
            f'fill="#1f2430">{label}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _figure(number: int, name: str, table: pd.DataFrame, meta: Mapping[str, Any]) -> str:
    spec = TABLES.get(name)
    title_en = spec.title_en if spec else _humanise(name)
    title_da = spec.title_da if spec else ""
    unit = spec.unit_en if spec else "count"
    fig_id = f"fig{number}"
    bars, zeros, total = _bars(name, table)
    year = meta.get("year", "")
    caption = [
        f"<strong>Figure {number}. {escape(title_en)}, {escape(str(year))}.</strong> "
        f'<span class="da" lang="da">{escape(title_da)}.</span>'
    ]
    if total is not None:
        caption.append(f" Total: {escape(str(total.get('display', '')))}")
        if _moe(total):
            caption.append(f" ± {escape(_num(round(_moe(total) or 0, 1)))}")
        caption.append(f" {escape(unit)}.")
    if any(b.suppressed for b in bars):
        caption.append(
            f" Cells marked “{escape(_marker(meta))}” are suppressed to protect the people "
            "counted (see How to read these figures)."
        )
    if any(b.moe for b in bars):
        caption.append(" Whiskers show the 95 % margin of error.")
    if name == "status_at_cutoff":
        caption.append(f" Status on the cut-off date {escape(str(meta.get('as_of', '')))}.")
    if zeros:
        caption.append(" Not shown (0): " + escape(", ".join(zeros)) + ".")
    rows = "".join(
        f"<tr><td>{escape(b.label_en)}</td><td lang='da'>{escape(b.label_da)}</td>"
        f'<td class="num">{escape(b.display)}</td>'
        f'<td class="num">{escape(_num(round(b.moe, 1))) if b.moe else ""}</td></tr>'
        for b in bars
    )
    return (
        f'<figure id="{name}" aria-labelledby="{fig_id}-c">'
        f"{_svg(fig_id, f'{title_en}, {year}', bars, unit)}"
        f'<figcaption id="{fig_id}-c">{"".join(caption)}</figcaption>'
        f"<details><summary>The numbers <span class='da' lang='da'>(tallene)</span></summary>"
        "<table><thead><tr><th>Category</th><th>Kategori</th><th>Count</th>"
        f"<th>± 95 %</th></tr></thead><tbody>{rows}</tbody></table></details>"
        "</figure>"
    )
