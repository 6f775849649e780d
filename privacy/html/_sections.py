"""The report's sections in words: the line under the title, how to read the figures, who is
protected, the method and privacy parameters, and the footer.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from privacy.html._format import _humanise, _marker, _num, _table_title
from privacy.units import protection_statements


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
