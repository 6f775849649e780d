"""A self-contained HTML report of a release, in the spirit of the centre's annual report.

One file that opens offline: inline CSS, bar charts drawn as inline SVG here in Python, no
script, no font or image from elsewhere. A Content-Security-Policy of ``default-src 'none'``
makes the browser refuse any outside request, so the file cannot leak a reader's visit, and a
test in headless Chromium checks that it renders.

English first, Danish labels beside them. Each chart is a ``<figure>`` whose ``<svg>`` has
``role="img"``, a ``<title>`` and a ``<desc>`` listing every value, and a ``<figcaption>``; the
numbers are also in a table under each chart for screen readers and copying.

Rendering is post-processing of a :class:`~privacy.model.Release`: it shows the released
cells and their margins of error and adds nothing that depends on the data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

import pandas as pd

from privacy.model import SUPPRESSED, TABLES, TOTAL, VALUE_COLUMNS, Release, TableSpec
from privacy.units import protection_statements

__all__ = ["CHARTS", "render_html"]

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

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_CSS = """
:root { --ink: #1f2430; --muted: #5b6170; --accent: #6b2c6e; --bar: #2f6f8f;
        --line: #d9dce3; --bg: #ffffff; --card: #f4f1f6; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
       font: 16px/1.5 "Helvetica Neue", Arial, "Liberation Sans", sans-serif; }
main { max-width: 980px; margin: 0 auto; padding: 32px 24px 64px; }
header { border-bottom: 4px solid var(--accent); padding-bottom: 16px; margin-bottom: 24px; }
h1 { font-size: 30px; line-height: 1.2; margin: 0 0 4px; color: var(--accent); }
h2 { font-size: 22px; margin: 40px 0 8px; color: var(--accent); }
.da { color: var(--muted); font-style: italic; }
.meta { color: var(--muted); font-size: 14px; margin: 8px 0 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr));
         gap: 12px; margin: 16px 0; }
.card { background: var(--card); border-radius: 8px; padding: 14px 16px; }
.card .n { font-size: 34px; font-weight: 700; color: var(--accent); line-height: 1.1; }
.card .l { font-size: 14px; }
.card .l span { display: block; color: var(--muted); font-style: italic; }
figure { margin: 28px 0; padding: 16px; border: 1px solid var(--line); border-radius: 8px; }
figure svg { width: 100%; height: auto; display: block; }
figcaption { font-size: 14px; color: var(--muted); margin-top: 8px; }
figcaption strong { color: var(--ink); }
details { margin-top: 8px; font-size: 14px; }
table { border-collapse: collapse; margin-top: 6px; font-size: 14px; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 10px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.note { background: #fbf7e8; border-left: 4px solid #c9a227; padding: 10px 14px; }
dl.params { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; }
dl.params dt { font-weight: 600; }
dl.params dd { margin: 0; }
footer { margin-top: 48px; font-size: 13px; color: var(--muted);
         border-top: 1px solid var(--line); padding-top: 12px; }
"""


@dataclass(frozen=True)
class _Bar:
    label_en: str
    label_da: str
    count: int | None
    display: str
    moe: float | None
    suppressed: bool


def render_html(release: Release) -> str:
    """The report as one HTML document (a string), needing nothing but a browser.

    Privacy: shows only the release's published cells, markers and parameters; the unit,
    privacy loss, mechanism and threshold are those of the release, explained in words.
    """
    meta = release.metadata
    year = meta.get("year", "")
    title = f"Human trafficking in Denmark: statistics for {year}"
    parts = [
        "<!doctype html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        "<main>",
        "<header>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="da" lang="da">Menneskehandel i Danmark: statistik for {escape(str(year))}</p>',
        f'<p class="meta">{_meta_line(meta)}</p>',
        "</header>",
        _headline(release),
        _about(meta),
        _protection(meta),
    ]
    parts.append('<h2 id="charts">Charts <span class="da" lang="da">Figurer</span></h2>')
    number = 0
    for name in CHARTS:
        table = release.tables.get(name)
        if table is None:
            continue
        number += 1
        parts.append(_figure(number, name, table, meta))
    parts += [_method(meta), _footer(meta), "</main>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"


# --------------------------------------------------------------------------- text


def _meta_line(meta: Mapping[str, Any]) -> str:
    method = (
        "Differential privacy"
        if meta.get("method") == "differential_privacy"
        else (
            "Exact counts with cell suppression (partners under agreement)"
            if meta.get("method") == "suppression"
            else str(meta.get("method", ""))
        )
    )
    items = [
        f"Status figures as of the cut-off date <strong>{escape(str(meta.get('as_of', '')))}"
        "</strong> (opgørelsesdato)",
        f"Method: {escape(method)}",
        f"Released {escape(str(meta.get('released_at', '')))}",
    ]
    return " · ".join(items)


def _marker(meta: Mapping[str, Any]) -> str:
    privacy = meta.get("privacy")
    if isinstance(privacy, Mapping) and privacy.get("marker"):
        return str(privacy["marker"])
    return f"<{meta.get('threshold', 5)}"


def _about(meta: Mapping[str, Any]) -> str:
    threshold = meta.get("threshold", 5)
    marker = escape(_marker(meta))
    if meta.get("method") == "suppression":
        privacy = meta.get("privacy") if isinstance(meta.get("privacy"), Mapping) else {}
        protection = privacy.get("protection_level", threshold) if privacy else threshold
        body = (
            f"<p>These are <strong>exact counts</strong>, shared with partners under a "
            f"data-sharing agreement. To protect the people counted, any count from 1 to "
            f"{int(threshold) - 1} is hidden and shown as <strong>{marker}</strong>. Some "
            f"larger counts are hidden too, marked the same way, so that a hidden count cannot "
            f"be worked out from the totals or from the other tables: a computer check (integer "
            f"programming over all tables together, and over earlier partner releases of the "
            f"year) confirms that every hidden small count could be "
            f"{escape(_num(protection))} more than it is, and as much less (or as low as the "
            f"published zeros allow, never below 1), given everything published; a change of "
            f"fewer than {int(threshold)} people since an earlier partner release is hidden "
            f"the same way. Zeros are "
            f"shown as 0.</p>"
        )
    else:
        body = (
            "<p>To protect the people counted, <strong>random noise</strong> was added to "
            "every count before publication (differential privacy). The figures are therefore "
            "close to, but not exactly, the true counts. The <strong>±</strong> after a number "
            "is its 95 % margin of error: whatever the data, in 95 of 100 releases the true "
            "count lies within that distance of the published one. The tables agree with each "
            "other; a table's cells can add up to a little more than its total, because a "
            "negative noisy value is shown as 0. Counts below "
            f"{escape(str(threshold))} after noise are shown as <strong>{marker}</strong>.</p>"
        )
    return (
        '<section class="note" aria-label="How to read these figures">'
        '<strong>How to read these figures</strong> <span class="da" lang="da">'
        "(Sådan læses tallene)</span>" + body + "</section>"
    )


def _protection(meta: Mapping[str, Any]) -> str:
    """Who is protected and how much (``privacy.units``); nothing for partner releases."""
    privacy = meta.get("privacy")
    statements = protection_statements(privacy) if isinstance(privacy, Mapping) else []
    if not statements:
        return ""
    items = "".join(f"<li>{escape(s)}</li>" for s in statements)
    return (
        '<section class="note" aria-label="Who is protected, and how much">'
        "<strong>Who is protected, and how much</strong> "
        '<span class="da" lang="da">(Hvem er beskyttet, og hvor meget)</span>'
        f"<ul>{items}</ul></section>"
    )


def _num(value: Any) -> str:
    """Numbers as a reader wants them: 5 not 5.0 or 4.999999999999999, 0.3704 not
    0.37037037037037035 (the exact values are in datapackage.json)."""
    if isinstance(value, bool) or not isinstance(value, float | int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "unbounded" if value > 0 else str(value)
        value = float(f"{value:.4g}")
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
    return str(value)


def _method(meta: Mapping[str, Any]) -> str:
    rows = [
        ("Method", meta.get("method")),
        ("Small-cell threshold", meta.get("threshold")),
        ("Code-list version", meta.get("code_list_version")),
        ("Cut-off date", meta.get("as_of")),
    ]
    body = "".join(
        f"<dt>{escape(k)}</dt><dd>{escape(_num(v))}</dd>" for k, v in rows if v is not None
    )
    privacy = meta.get("privacy")
    params = _params(privacy) if isinstance(privacy, Mapping) else ""
    return (
        '<section aria-labelledby="method">'
        '<h2 id="method">Method and privacy parameters '
        '<span class="da" lang="da">Metode og parametre</span></h2>'
        f'<dl class="params">{body}</dl>'
        "<h3>Privacy parameters</h3>"
        f"{params}"
        "</section>"
    )


_PER_TABLE_COLUMNS = (
    "epsilon",
    "scale",
    "moe95",
    "total_display",
    "total_moe95",
    "cells",
    "suppressed_cells",
)
"""Which per-table parameters the report shows as columns (all are in datapackage.json)."""


def _params(privacy: Mapping[str, Any]) -> str:
    """Parameters as a definition list, keys made readable. A mapping of table names to
    numbers (epsilon per table) is a two-column table; a mapping of table names to mappings
    (per-table parameters) is one row per table with the columns readers need."""
    items = []
    for key, value in privacy.items():
        label = escape(_humanise(str(key)))
        if (
            isinstance(value, Mapping)
            and value
            and all(isinstance(v, Mapping) for v in value.values())
        ):
            rendered = _per_table(value)
        elif isinstance(value, Mapping):
            rendered = (
                "<table>"
                + "".join(
                    f"<tr><td>{escape(_table_title(str(k)))}</td>"
                    f'<td class="num">{escape(_num(v))}</td></tr>'
                    for k, v in value.items()
                )
                + "</table>"
            )
        elif isinstance(value, list | tuple):
            rendered = escape(", ".join(_num(v) for v in value))
        else:
            rendered = escape("not applicable" if value is None else _num(value))
        items.append(f"<dt>{label}</dt><dd>{rendered}</dd>")
    return f'<dl class="params">{"".join(items)}</dl>'


def _per_table(tables: Mapping[str, Any]) -> str:
    rows = list(tables.values())
    columns = [c for c in _PER_TABLE_COLUMNS if any(c in r for r in rows)]
    if not columns:
        columns = [
            k for k, v in rows[0].items() if isinstance(v, int | float | str) and len(str(v)) <= 30
        ][:6]
    head = "".join(f"<th>{escape(_humanise(c))}</th>" for c in columns)
    body = "".join(
        f"<tr><td>{escape(_table_title(str(name)))}</td>"
        + "".join(
            f'<td class="num">{escape(_num(row.get(c)) if row.get(c) is not None else "")}</td>'
            for c in columns
        )
        + "</tr>"
        for name, row in tables.items()
    )
    return f"<table><thead><tr><th>Table</th>{head}</tr></thead><tbody>{body}</tbody></table>"


_LABELS = {
    "epsilon": "Epsilon (ε)",
    "epsilon_total": "Epsilon, whole release (ε)",
    "epsilon_by_unit": "Epsilon per privacy unit (ε)",
    "moe95": "± 95 %",
    "total_display": "Total",
    "total_moe95": "Total ± 95 %",
    "protection_level": "Protection level (how far above and below its value a hidden "
    "small count could be)",
    "opendp_version": "OpenDP version",
}


def _humanise(key: str) -> str:
    if key in _LABELS:
        return _LABELS[key]
    text = key.replace("_", " ")
    return text[:1].upper() + text[1:]


def _table_title(name: str) -> str:
    spec = TABLES.get(name)
    return spec.title_en if spec else _humanise(name)


def _footer(meta: Mapping[str, Any]) -> str:
    return (
        "<footer>"
        "<p>Source: CMM Ledger, the event ledger of Center mod Menneskehandel (Danish Centre "
        "against Human Trafficking). Licence: Creative Commons Attribution 4.0 (CC BY 4.0).</p>"
        f"<p>Release {escape(str(meta.get('release_id', '')))}, released by "
        f"{escape(str(meta.get('released_by') or 'the centre'))}. The tables are in the CSV "
        "files beside this report, described by datapackage.json.</p>"
        "</footer>"
    )


# --------------------------------------------------------------------------- numbers


def _dims(name: str, table: pd.DataFrame) -> list[str]:
    spec = TABLES.get(name)
    if spec is not None and all(d in table.columns for d in spec.dimension_names):
        return spec.dimension_names
    return [c for c in table.columns if c not in VALUE_COLUMNS]


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in table.to_dict("records")]


def _is_total_row(row: Mapping[str, Any], dims: list[str]) -> bool:
    return any(str(row[d]) == TOTAL for d in dims)


def _value(row: Mapping[str, Any]) -> int | None:
    if str(row.get("status")) == SUPPRESSED:
        return None
    count = row.get("count")
    if count is None or pd.isna(count):
        return None
    return int(count)


def _moe(row: Mapping[str, Any]) -> float | None:
    moe = row.get("moe95")
    if moe is None or pd.isna(moe):
        return None
    value = float(moe)
    return value if math.isfinite(value) and value > 0 else None


_Shown = tuple[str, float | None] | None
"""What a headline shows: the release's display text and margin of error, or None when the
release has no such figure (the card is then left out, never filled with a marker)."""


def _shown_row(row: Mapping[str, Any]) -> _Shown:
    return str(row.get("display", "")), _moe(row)


def _total(release: Release, name: str) -> _Shown:
    """A table's published grand total: its total row, else the sum of its cells when none is
    suppressed and none is noisy (the sum of noisy cells has no stated margin)."""
    table = release.tables.get(name)
    if table is None:
        return None
    dims = _dims(name, table)
    rows = _records(table)
    for row in rows:
        if all(str(row[d]) == TOTAL for d in dims):
            return _shown_row(row)
    cells = [r for r in rows if not _is_total_row(r, dims)]
    values = [_value(r) for r in cells]
    if not cells or any(v is None for v in values) or any(_moe(r) for r in cells):
        return None
    return str(sum(v for v in values if v is not None)), None


def _cell(release: Release, name: str, code: str) -> _Shown:
    table = release.tables.get(name)
    if table is None:
        return None
    dims = _dims(name, table)
    for row in _records(table):
        if str(row[dims[0]]) == code and not _is_total_row(row, dims):
            return _shown_row(row)
    return None


def _victims(release: Release) -> _Shown:
    year = release.metadata.get("year")
    table = release.tables.get("victims_by_year")
    if table is not None and year is not None:
        for row in _records(table):
            if str(row.get("year")) == str(year):
                return _shown_row(row)
    return _total(release, "by_gender")


def _shown(value: tuple[str, float | None]) -> str:
    text, moe = value
    if text.isdigit():
        text = f"{int(text):,}".replace(",", "\N{THIN SPACE}")
    html = escape(text)
    if moe:
        html += f"<small> ± {escape(_num(round(moe, 1)))}</small>"
    return html


def _headline(release: Release) -> str:
    cards = [
        (_victims(release), "Assessed victims of trafficking", "Vurderede ofre"),
        (
            _cell(release, "by_authority", "immigration_service"),
            "assessed by the Immigration Service",
            "vurderet af Udlændingestyrelsen",
        ),
        (
            _cell(release, "by_authority", "cmm"),
            "assessed by the Centre against Human Trafficking",
            "vurderet af Center mod Menneskehandel",
        ),
        (
            _cell(release, "by_exploitation", "forced_labour"),
            "victims of forced labour",
            "ofre for tvangsarbejde",
        ),
        (_total(release, "hotline_by_caller"), "calls to the hotline", "opkald til hotline"),
    ]
    html = [
        f'<div class="card"><div class="n">{_shown(v)}</div>'
        f'<div class="l">{escape(en)}<span lang="da">{escape(da)}</span></div></div>'
        for v, en, da in cards
        if v is not None
    ]
    return (
        '<section aria-labelledby="headline"><h2 id="headline">The year in numbers '
        '<span class="da" lang="da">Året i tal</span></h2>'
        f'<div class="cards">{"".join(html)}</div></section>'
    )


# --------------------------------------------------------------------------- charts


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
