"""The year in numbers: the headline cards, each the release's own published figure."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from privacy.html._cells import _dims, _is_total_row, _moe, _records, _value
from privacy.html._format import _num
from privacy.model import TOTAL, Release

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
