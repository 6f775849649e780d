"""The downloadable release: a Frictionless Data Package with an HTML report beside it.

One CSV per table, ``datapackage.json`` describing every CSV with a Table Schema (types, code
lists as enums, ``minimum`` 0 for counts, ``""`` as the only missing value) and the release's
context (licence, source, cut-off date, method, privacy parameters, threshold, code-list
version), and ``report.html``, readable offline. ``frictionless validate datapackage.json``
checks the CSVs against their schemas; the tests run it.

Publishing is post-processing of a :class:`~privacy.model.Release`: it adds no information
and spends no privacy budget. It refuses, rather than repairs, a release in which a suppressed
cell shows a number, because that would publish what the privacy step hid.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from privacy.html import render_html
from privacy.model import PUBLISHED as PUBLISHED_STATUS
from privacy.model import SUPPRESSED, TABLES, TOTAL, VALUE_COLUMNS, Dimension, Release
from privacy.units import protection_statements

__all__ = ["LICENSE", "SOURCE", "write_package"]

LICENSE: dict[str, str] = {
    "name": "CC-BY-4.0",
    "title": "Creative Commons Attribution 4.0 International",
    "path": "https://creativecommons.org/licenses/by/4.0/",
}
SOURCE: dict[str, str] = {
    "title": "CMM Ledger: the event ledger of Center mod Menneskehandel "
    "(Danish Centre against Human Trafficking)",
    "description": "Counts are computed from the centre's event-sourced case ledger "
    "(assessments, support status, contacts, hotline calls and outreach logs) as known at "
    "the cut-off date.",
}
REPORT_FILE = "report.html"

_METHOD_TITLE = {
    "differential_privacy": "differential privacy (noisy counts)",
    "suppression": "cell suppression (exact counts for partners under agreement)",
}
_NUMBER = re.compile(r"^\s*[-+]?\d+(\.\d+)?\s*$")


def write_package(release: Release, out_dir: Path) -> Path:
    """Write the release's CSVs, ``report.html`` and ``datapackage.json`` into ``out_dir``.

    Returns the path of ``datapackage.json``. Files of the same names are overwritten; nothing
    else in ``out_dir`` is touched.

    Privacy: publishes exactly the release's cells (``count`` is empty where ``status`` is
    ``suppressed``); unit, privacy loss, mechanism and threshold are those recorded in
    ``release.metadata``, which the package repeats so a reader can check them.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = release.metadata
    resources: list[dict[str, Any]] = []
    for name, table in release.tables.items():
        dims = _dimensions(name, table)
        path = out_dir / f"{name}.csv"
        _write_csv(name, table, dims, path)
        resources.append(_resource(name, table, dims, path))

    report = out_dir / REPORT_FILE
    report.write_text(render_html(release), encoding="utf-8")
    resources.append(
        {
            "name": "report",
            "path": REPORT_FILE,
            "title": "Report with charts (HTML, opens offline)",
            "format": "html",
            "mediatype": "text/html",
            "encoding": "utf-8",
            **_integrity(report),
        }
    )

    year = meta.get("year")
    method = str(meta.get("method", "unknown"))
    descriptor: dict[str, Any] = {
        "name": _slug(f"cmm-human-trafficking-statistics-{year}-{method}"),
        "title": f"Human trafficking in Denmark: statistics for {year} "
        f"(Menneskehandel i Danmark: statistik for {year})",
        "description": _description(meta),
        "version": str(meta.get("release_id", "")) or None,
        "created": _created(meta),
        "licenses": [LICENSE],
        "sources": [SOURCE],
        "keywords": ["human trafficking", "menneskehandel", "Denmark", "statistics"],
        # Custom properties (the Data Package spec allows them): what a reader needs to
        # interpret and check the numbers.
        "reportingYear": year,
        "cutOffDate": _jsonable(meta.get("as_of")),
        "method": method,
        "privacy": _jsonable(meta.get("privacy", {})),
        "protection": protection_statements(meta.get("privacy") or {}),
        "threshold": _jsonable(meta.get("threshold")),
        "codeListVersion": _jsonable(meta.get("code_list_version")),
        "releaseId": _jsonable(meta.get("release_id")),
        "releasedAt": _jsonable(meta.get("released_at")),
        "releasedBy": _jsonable(meta.get("released_by")),
        "report": REPORT_FILE,
        "resources": resources,
    }
    descriptor = {k: v for k, v in descriptor.items() if v is not None}
    target = out_dir / "datapackage.json"
    target.write_text(json.dumps(descriptor, indent=2, ensure_ascii=False) + "\n", "utf-8")
    return target


def _dimensions(name: str, table: pd.DataFrame) -> list[str]:
    spec = TABLES.get(name)
    if spec is not None and all(d in table.columns for d in spec.dimension_names):
        return spec.dimension_names
    return [c for c in table.columns if c not in VALUE_COLUMNS]


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _write_csv(name: str, table: pd.DataFrame, dims: list[str], path: Path) -> None:
    missing = [c for c in ("count", "status", "display") if c not in table.columns]
    if missing:
        raise ValueError(f"table {name!r} lacks the release columns {missing}")
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow([*dims, *VALUE_COLUMNS])
        for values in table.to_dict("records"):
            status = str(values["status"])
            display = str(values["display"])
            hidden = status == SUPPRESSED
            if hidden and _NUMBER.match(display):
                raise ValueError(
                    f"table {name!r}: a suppressed cell displays the number {display!r}"
                )
            count = values["count"]
            moe = values.get("moe95")
            writer.writerow(
                [
                    *(_cell(values[d]) for d in dims),
                    "" if hidden or _is_missing(count) else str(int(count)),
                    status,
                    display,
                    "" if hidden or moe is None or _is_missing(moe) else repr(float(moe)),
                ]
            )


def _cell(value: Any) -> str:
    if _is_missing(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _resource(name: str, table: pd.DataFrame, dims: list[str], path: Path) -> dict[str, Any]:
    spec = TABLES.get(name)
    unit = spec.unit_en if spec else "count"
    fields = [_dimension_field(name, table, d) for d in dims]
    fields += [
        {
            "name": "count",
            "type": "integer",
            "title": f"Number of {unit}",
            "description": "The published count; empty when the cell is suppressed.",
            "constraints": {"minimum": 0},
        },
        {
            "name": "status",
            "type": "string",
            "title": "Cell status",
            "description": "published, or suppressed (the count is withheld).",
            "constraints": {"required": True, "enum": [PUBLISHED_STATUS, SUPPRESSED]},
        },
        {
            "name": "display",
            "type": "string",
            "title": "As shown to readers",
            "description": "The count as text, or the marker shown instead of a suppressed "
            "count (see the package's privacy.marker or the report).",
            "constraints": {"required": True},
        },
        {
            "name": "moe95",
            "type": "number",
            "title": "95 % margin of error",
            "description": "Half-width of the 95 % interval around the published count: for "
            "any data, the true count lies within it in at least 95 of 100 releases (noise and "
            "post-processing included; it depends on public parameters only); empty when the "
            "count is exact or suppressed.",
            "constraints": {"minimum": 0},
        },
    ]
    resource: dict[str, Any] = {
        "name": name,
        "path": path.name,
        "title": spec.title_en if spec else name.replace("_", " "),
        "description": (f"{spec.title_en} (Danish: {spec.title_da})." if spec else "")
        + f" Rows where a dimension is '{TOTAL}' are totals over that dimension.",
        "format": "csv",
        "mediatype": "text/csv",
        "encoding": "utf-8",
        "schema": {"fields": fields, "missingValues": [""], "primaryKey": dims},
        **_integrity(path),
    }
    return resource


def _dimension_field(name: str, table: pd.DataFrame, column: str) -> dict[str, Any]:
    spec = TABLES.get(name)
    dim: Dimension | None = None
    if spec is not None and column in spec.dimension_names:
        dim = spec.dimension(column)
    values = [v for v in table[column].tolist() if not _is_missing(v)]
    integer = (dim.field_type == "integer") if dim else pd.api.types.is_integer_dtype(table[column])
    field: dict[str, Any] = {
        "name": column,
        "type": "integer" if integer else "string",
        "title": dim.title_en if dim else column.replace("_", " "),
        "constraints": {"required": True},
    }
    if dim is not None:
        field["description"] = f"{dim.title_en} (Danish: {dim.title_da})" + (
            f"; codes from {dim.code_list} (see codeListVersion)." if dim.code_list else "."
        )
    if not integer:
        # The code list, then any other code present (a retired code still counts) and the
        # margin marker; the enum stays a public list, never a function of the data alone.
        codes = list(dim.codes) if dim else []
        present = sorted({str(v) for v in values} - set(codes) - {TOTAL})
        enum = [*codes, *present]
        if TOTAL in {str(v) for v in values}:
            enum.append(TOTAL)
        if enum:
            field["constraints"]["enum"] = enum
    return field


def _integrity(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    return {"bytes": len(data), "hash": "sha256:" + hashlib.sha256(data).hexdigest()}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-")


def _created(meta: Mapping[str, Any]) -> str:
    released = meta.get("released_at")
    if isinstance(released, datetime):
        return released.isoformat(timespec="seconds")
    if isinstance(released, str) and released:
        return released
    return datetime.now(UTC).isoformat(timespec="seconds")


def _description(meta: Mapping[str, Any]) -> str:
    method = str(meta.get("method", ""))
    parts = [
        f"Statistics on victims of human trafficking in Denmark for {meta.get('year')}, "
        f"support status at the cut-off date {meta.get('as_of')}, hotline calls and outreach.",
        f"Method: {_METHOD_TITLE.get(method, method)}; small-cell threshold "
        f"{meta.get('threshold')}.",
        f"Code lists version {meta.get('code_list_version')}.",
        f"See {REPORT_FILE} for charts and a plain-language explanation.",
    ]
    if method == "suppression":
        parts.append(
            "Exact counts shared with partners under a data-sharing agreement; do not "
            "redistribute beyond its terms."
        )
    return " ".join(parts)


def _jsonable(value: Any) -> Any:
    """Metadata as JSON: dates as ISO strings, non-finite floats as strings, dataclasses and
    mappings recursively, anything else as its string."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return str(value)
