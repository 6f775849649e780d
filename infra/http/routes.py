"""The routes: each parses its request, calls one use case of :mod:`application`, and shapes
the answer. Who may call each is its rule (:mod:`infra.http.rules`); what it read is
recorded by the audit (:mod:`infra.http.audit`) from :func:`infra.http.audit.note`."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Path, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from application.access import Principal
from domain.envelope import PERSON_REF_PATTERN
from infra.http.audit import note
from infra.http.rules import allow, public

PERSON_REF = PERSON_REF_PATTERN

reports = APIRouter(tags=["analysts"])
cases = APIRouter(tags=["case workers"])
events = APIRouter(tags=["partners"])
releases = APIRouter(tags=["public"])
publishing = APIRouter(tags=["publishers"])
admin = APIRouter(tags=["admins"])


def _adapters(request: Request) -> Any:
    return request.app.state.adapters


@reports.get("/v1/reports/{year}", summary="The exact annual report of a year as of a date")
def report(
    request: Request,
    who: Annotated[Principal, allow("analyst")],
    year: Annotated[int, Path(ge=1990, le=2099)],
    as_of: Annotated[date, Query(description="Cut-off YYYY-MM-DD, on or after the year's end")],
    table: Annotated[str | None, Query(description="One table (required for CSV)")] = None,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    from infra.report_out import report_document

    reports, cut_off = request.app.state.reports, as_of.isoformat()
    names = list(reports.annual_report(year, cut_off))
    if table is not None and table not in names:
        raise HTTPException(422, f"table: no table {table!r}; one of {', '.join(names)}")
    if accept is not None and "text/csv" in accept:
        if table is None:
            raise HTTPException(
                422, f"table: CSV holds one table; name it (?table=), one of {', '.join(names)}"
            )
        text = reports.rendered(
            year, cut_off, f"csv:{table}", lambda t: t[table].to_csv(index=False, na_rep="")
        )
        return Response(text, media_type="text/csv; charset=utf-8")

    def document(tables: dict[str, Any]) -> bytes:
        chosen = tables if table is None else {table: tables[table]}
        return json.dumps(report_document(chosen, year, cut_off), ensure_ascii=False).encode()

    body = reports.rendered(year, cut_off, f"json:{table or ''}", document)
    return Response(body, media_type="application/json")


@reports.get("/v1/facts/counts", summary="Assessed victims of a year counted by dimensions")
def fact_counts(
    request: Request,
    who: Annotated[Principal, allow("analyst")],
    by: Annotated[str, Query(description="Comma-separated dimensions, e.g. gender,exploitation")],
    year: Annotated[int, Query(ge=1990, le=2099)],
    as_of: Annotated[date, Query(description="Cut-off YYYY-MM-DD, on or after the year's end")],
) -> dict[str, Any]:
    import pandas as pd

    from application.counts import fact_counts as counts_of
    from infra.report_out import labels_used

    dimensions = [d.strip() for d in by.split(",") if d.strip()]
    rows = counts_of(_adapters(request), year, as_of.isoformat(), dimensions)
    return {
        "year": year,
        "as_of": as_of.isoformat(),
        "by": dimensions,
        "counts": rows,
        "labels": labels_used({"counts": pd.DataFrame(rows, columns=[*dimensions, "count"])}),
    }


@cases.get("/v1/cases/{person_ref}", summary="One case's current state and its timeline")
def case(
    request: Request,
    who: Annotated[Principal, allow("case_worker")],
    person_ref: Annotated[str, Path(pattern=PERSON_REF)],
) -> dict[str, Any]:
    from application.case_detail import case_detail

    note(request, person_refs=[person_ref])
    found = case_detail(_adapters(request), person_ref)
    if found is None:
        raise HTTPException(404, "person_ref: no case of that person_ref")
    return found


@cases.get("/v1/cases", summary="The cases, or those that need attention")
def case_list(
    request: Request,
    who: Annotated[Principal, allow("case_worker")],
    flagged: Annotated[bool, Query(description="Cases whose history is inconsistent")] = False,
    unanswered_days: Annotated[
        int | None, Query(ge=0, le=36500, description="Support offered, no answer for N days")
    ] = None,
    on: Annotated[date | None, Query(description="The day unanswered_days counts to")] = None,
) -> list[dict[str, Any]]:
    from application.case_detail import needing_attention

    rows = needing_attention(
        _adapters(request), flagged=flagged, unanswered_days=unanswered_days, on=on
    )
    note(request, person_refs=[r["person_ref"] for r in rows])
    return rows


@events.post(
    "/v1/events",
    summary="Submit events: one JSON event, or JSON lines (application/x-ndjson)",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "application/x-ndjson": {"schema": {"type": "string"}},
            }
        }
    },
)
async def submit(
    request: Request,
    who: Annotated[Principal, allow("source")],
    content_type: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    from starlette.concurrency import run_in_threadpool

    from application.submit import (
        CorrectionForbidden,
        SubmissionRefused,
        one_line,
        submit_events,
    )

    body = await request.body()
    if content_type is not None and content_type.split(";")[0].strip() == "application/json":
        body = one_line(body)
    assert who.source is not None  # a source user always has one (domain.access)
    try:
        result = await run_in_threadpool(submit_events, _adapters(request), body, who.source)
    except CorrectionForbidden as forbidden:
        raise HTTPException(403, str(forbidden)) from forbidden
    except SubmissionRefused as refused:
        status = 413 if "bytes a request" in str(refused) else 415
        raise HTTPException(status, str(refused)) from refused
    note(
        request,
        detail={"lines": result.lines, "stored": result.stored, "rejected": len(result.rejected)},
    )
    return JSONResponse(
        {
            "lines": result.lines,
            "stored": result.stored,
            "duplicates": result.duplicates,
            "rejected": result.rejected,
        },
        status_code=200 if result.ok else 422,
    )


@releases.get("/v1/releases", summary="The published releases")
def release_list(request: Request, who: Annotated[None, public()]) -> list[dict[str, Any]]:
    from application.releases import releases as published

    return published(request.app.state.releases)


@releases.get("/v1/releases/{release_id}/{name}", summary="One file of a published release")
def release_file(
    request: Request, who: Annotated[None, public()], release_id: str, name: str
) -> FileResponse:
    from application.releases import NoSuchRelease
    from application.releases import release_file as file_of

    try:
        path = file_of(request.app.state.releases, release_id, name)
    except NoSuchRelease as missing:
        raise HTTPException(404, "name: no such published file") from missing
    return FileResponse(path)


@publishing.get("/v1/budget/{year}", summary="A year's privacy budget: allocated, spent, left")
def budget(
    request: Request,
    who: Annotated[Principal, allow("publisher")],
    year: Annotated[int, Path(ge=1990, le=2099)],
) -> dict[str, Any]:
    from application.budget import budget_of_year

    return budget_of_year(_adapters(request), year)


@publishing.post("/v1/releases", summary="Publish a year's differentially private release")
def publish(
    request: Request,
    who: Annotated[Principal, allow("publisher")],
    year: Annotated[int, Query(ge=1990, le=2099)],
    as_of: Annotated[date, Query(description="Cut-off YYYY-MM-DD, on or after the year's end")],
) -> dict[str, Any]:
    import uuid

    from application.publish_dp import publish_dp
    from application.releases import releases as published
    from privacy.budget import BudgetError

    root = request.app.state.releases
    if root is None:
        raise HTTPException(409, "releases: the server was started without --releases")
    folder = root / f"dp-{year}-{as_of.isoformat()}-{uuid.uuid4().hex[:8]}"
    try:
        publish_dp(_adapters(request), year, as_of.isoformat(), folder, released_by=who.name)
    except BudgetError as refused:
        raise HTTPException(409, f"year: {refused}") from refused
    note(request, detail={"release": folder.name, "year": year, "as_of": as_of.isoformat()})
    return next(r for r in published(root) if r["id"] == folder.name)


@admin.get("/v1/audit", summary="The audit trail")
def audit_trail(
    request: Request,
    who: Annotated[Principal, allow("admin")],
    since: Annotated[date | None, Query(description="First day (UTC); default today")] = None,
    until: Annotated[date | None, Query(description="Last day (UTC); default since")] = None,
    person_ref: Annotated[str | None, Query(pattern=PERSON_REF)] = None,
) -> list[dict[str, Any]]:
    from application.access import audit

    first = since or datetime.now(UTC).date()
    return audit(request.app.state.access, first, until or first, person_ref)


def _pages() -> APIRouter:
    from infra.http.pages import pages

    return pages


ROUTERS = (reports, cases, events, releases, publishing, admin, _pages())
