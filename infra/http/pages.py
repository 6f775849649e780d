"""The web pages: server-rendered HTML (Jinja2, autoescaped) and one style sheet, no
script. Each page route declares its rule as the API's routes do (``allow(..., page=True)``
or ``public()``, :mod:`infra.http.rules`), so ``create_app`` refuses a page without one and
the same rule decides; reads of person-level data are noted for the audit as the API's are.

- ``/`` and ``/releases``: the published releases (public), linking to their files.
- ``/login`` (a form for the token) and ``/logout`` (POST): the sign-in session.
- ``/cases`` and ``/cases/{person_ref}`` (case workers): the case list and one case.
- ``/reports`` and ``/reports/{year}`` (analysts): the report's tables and their CSV.

Every page is sent with a Content-Security-Policy that allows the style sheet alone.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from application.access import Principal, authenticate
from domain.envelope import PERSON_REF_PATTERN
from infra.http.audit import note
from infra.http.rules import PageRefused, TokenFailures, allow, public
from infra.http.sessions import LOGIN_COOKIE, SESSION_COOKIE, Sessions

HERE = Path(__file__).parent
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
FORM_LIMIT = 4096
"""Bytes a sign-in or sign-out form may have."""

templates = Jinja2Templates(directory=HERE / "templates")
pages = APIRouter(include_in_schema=False)

EVENT_TITLES = {
    "ContactRegistered": ("Contact registered", "Kontakt registreret"),
    "AssessmentDecided": ("Assessment decided", "Vurdering afgjort"),
    "SupportOffered": ("Support offered", "Støtte tilbudt"),
    "SupportStatusChanged": ("Support status changed", "Støttestatus ændret"),
    "AccommodationChanged": ("Accommodation changed", "Indkvartering ændret"),
    "DepartedDenmark": ("Departed Denmark", "Udrejst af Danmark"),
    "HotlineCallReceived": ("Hotline call received", "Opkald til hotline"),
    "OutreachActivityLogged": ("Outreach activity logged", "Opsøgende indsats"),
    "CorrectionRecorded": ("Correction recorded", "Rettelse registreret"),
}
CASE_COLUMNS = (
    "person_ref",
    "first_contact_on",
    "first_contact_channel",
    "outcome",
    "status",
    "status_on",
    "flags",
    "event_count",
)


def _lang(request: Request) -> str:
    return "da" if request.query_params.get("lang") == "da" else "en"


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    from infra.report_out import column_title, label

    lang = _lang(request)
    session = _sessions(request).get(request.cookies.get(SESSION_COOKIE))
    answer = templates.TemplateResponse(
        request,
        name,
        {
            "lang": lang,
            "title_of": lambda column: column_title(column, lang),  # type: ignore[arg-type]
            "label_of": lambda column, code: label(column, code, lang),  # type: ignore[arg-type]
            "csrf": None if session is None else session.csrf,
            "who": getattr(request.state, "principal", None),
            **context,
        },
        status_code=status_code,
    )
    secure(answer)
    return answer


def secure(answer: Response) -> Response:
    answer.headers["Content-Security-Policy"] = CSP
    answer.headers["X-Content-Type-Options"] = "nosniff"
    answer.headers["Referrer-Policy"] = "no-referrer"
    answer.headers["Cache-Control"] = "no-store"
    return answer


def _sessions(request: Request) -> Sessions:
    sessions: Sessions = request.app.state.sessions
    return sessions


def _next(value: str | None) -> str:
    """Where to go after signing in: a path of this site only."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def _cookie(request: Request, answer: Response, name: str, value: str, max_age: int) -> None:
    answer.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > FORM_LIMIT:
        return {}
    parsed = parse_qs(body.decode("utf8", errors="replace"), max_num_fields=10)
    return {k: v[0] for k, v in parsed.items()}


def login_page(request: Request, status_code: int, error: str | None = None) -> Response:
    """The sign-in form, with a fresh CSRF value in a cookie and in the form."""
    check = secrets.token_urlsafe(24)
    here = request.url.path
    wanted = request.query_params.get("next") if here == "/login" else here
    if here != "/login" and request.url.query:
        wanted = f"{here}?{request.url.query}"
    if here.startswith("/cases/"):
        wanted = "/cases"  # a refused page never echoes the person_ref asked for
    answer = render(
        request,
        "login.html",
        {"check": check, "next": _next(wanted), "error": error},
        status_code,
    )
    _cookie(request, answer, LOGIN_COOKIE, check, 600)
    if status_code == 401 and request.cookies.get(SESSION_COOKIE):
        answer.delete_cookie(SESSION_COOKIE, path="/")
    return answer


def install(app: FastAPI) -> None:
    """The pages' sessions and their refusals: 401 is the sign-in page, 403 a page."""
    app.state.sessions = Sessions()

    @app.exception_handler(PageRefused)
    def page_refused(request: Request, error: PageRefused) -> Response:
        if error.status_code == 401:
            return login_page(request, 401)
        message = str(error.detail)
        return render(
            request,
            "error.html",
            {"status": error.status_code, "message": message},
            error.status_code,
        )


# ---------------------------------------------------------------------------------------------
# Public


@pages.get("/static/pages.css")
def style(who: Annotated[None, public()]) -> Response:
    css = (HERE / "static" / "pages.css").read_text(encoding="utf8")
    return Response(css, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


@pages.get("/")
@pages.get("/releases")
def release_page(request: Request, who: Annotated[None, public()]) -> Response:
    from application.releases import releases

    return render(request, "releases.html", {"releases": releases(request.app.state.releases)})


@pages.get("/login")
def login_form(request: Request, who: Annotated[None, public()]) -> Response:
    return login_page(request, 200)


@pages.post("/login")
async def login(request: Request, who: Annotated[None, public()]) -> Response:
    from starlette.concurrency import run_in_threadpool

    form = await _form(request)
    check = request.cookies.get(LOGIN_COOKIE, "")
    if not check or not hmac.compare_digest(check, form.get("check", "")):
        return login_page(request, 403, "The form had expired: sign in again.")
    failures: TokenFailures = request.app.state.token_failures
    client = request.client.host if request.client is not None else "-"
    if await run_in_threadpool(failures.blocked, request.app.state.access, client):
        return login_page(request, 429, "Too many wrong tokens from this address; try later.")
    token = form.get("token", "").strip()
    principal = None
    if token:
        principal = await run_in_threadpool(authenticate, request.app.state.access, token)
    if principal is None:
        await run_in_threadpool(failures.failed, request.app.state.access, client)
        return login_page(request, 401, "That token is not valid (unknown, revoked or expired).")
    session_id, max_age = _sessions(request).open(token, principal.expires_at)
    answer = secure(RedirectResponse(_next(form.get("next")), status_code=303))
    _cookie(request, answer, SESSION_COOKIE, session_id, max_age)
    answer.delete_cookie(LOGIN_COOKIE, path="/")
    return answer


@pages.post("/logout")
async def logout(request: Request, who: Annotated[None, public()]) -> Response:
    form = await _form(request)
    session_id = request.cookies.get(SESSION_COOKIE)
    session = _sessions(request).get(session_id)
    if session is not None and not hmac.compare_digest(session.csrf, form.get("csrf", "")):
        return render(
            request, "error.html", {"status": 403, "message": "The sign-out form had expired."}, 403
        )
    _sessions(request).close(session_id)
    answer = secure(RedirectResponse("/login", status_code=303))
    answer.delete_cookie(SESSION_COOKIE, path="/")
    return answer


# ---------------------------------------------------------------------------------------------
# Case workers


def _int(value: str | None, low: int, high: int) -> int | None:
    if value is None or value == "":
        return None
    if not value.isdigit() or not low <= int(value) <= high:
        raise ValueError(value)
    return int(value)


@pages.get("/cases")
def case_list_page(
    request: Request, who: Annotated[Principal, allow("case_worker", page=True)]
) -> Response:
    from application.case_detail import needing_attention

    query = request.query_params
    flagged = query.get("flagged") in {"1", "true", "on"}
    try:
        days = _int(query.get("unanswered_days"), 0, 36500)
        on = date.fromisoformat(query["on"]) if query.get("on") else None
    except ValueError:
        return render(
            request,
            "error.html",
            {
                "status": 422,
                "message": "unanswered_days: a whole number of days (0 or more); on: a date "
                "YYYY-MM-DD",
            },
            422,
        )
    rows = needing_attention(
        request.app.state.adapters, flagged=flagged, unanswered_days=days, on=on
    )
    note(request, person_refs=[r["person_ref"] for r in rows])
    return render(
        request,
        "cases.html",
        {
            "rows": rows,
            "columns": CASE_COLUMNS,
            "flagged": flagged,
            "days": "" if days is None else days,
            "on": "" if on is None else on.isoformat(),
            "flag_label": _flag_label,
        },
    )


def _flag_label(flag: str, lang: str) -> str:
    from domain.codes import CaseFlag

    try:
        member = CaseFlag(flag)
    except ValueError:
        return flag
    return member.label_da if lang == "da" else member.label_en


@pages.get("/cases/{person_ref}")
def case_page(
    request: Request,
    who: Annotated[Principal, allow("case_worker", page=True)],
    person_ref: str,
) -> Response:
    import re

    from application.case_detail import case_detail

    found = None
    if re.fullmatch(PERSON_REF_PATTERN, person_ref):
        note(request, person_refs=[person_ref])
        found = case_detail(request.app.state.adapters, person_ref)
    if found is None:
        return render(
            request,
            "error.html",
            {"status": 404, "message": "No case of that person reference."},
            404,
        )
    lang = _lang(request)
    return render(
        request,
        "case.html",
        {
            "case": found["case"],
            "timeline": found["timeline"],
            "event_title": lambda t: EVENT_TITLES.get(t, (t, t))[lang == "da"],
            "flag_label": _flag_label,
        },
    )


# ---------------------------------------------------------------------------------------------
# Analysts


def _report_form(request: Request) -> dict[str, Any]:
    from application.report import FIRST_YEAR

    this_year = datetime.now(UTC).year
    return {"years": list(range(this_year, FIRST_YEAR - 1, -1))}


@pages.get("/reports")
def report_picker(
    request: Request, who: Annotated[Principal, allow("analyst", page=True)]
) -> Response:
    year, as_of = request.query_params.get("year"), request.query_params.get("as_of")
    if year and as_of:
        lang = "&lang=da" if _lang(request) == "da" else ""
        target = f"/reports/{quote(year)}?as_of={quote(as_of)}{lang}"
        return secure(RedirectResponse(target, status_code=303))
    return render(
        request,
        "reports.html",
        {**_report_form(request), "year": None, "as_of": "", "tables": None, "error": None},
    )


def _checked(year: str, as_of: str | None) -> tuple[int, str]:
    from application.report import check_as_of, check_year

    if not year.isdigit():
        raise ValueError("year: give the year in full, e.g. 2012")
    if not as_of:
        raise ValueError("as_of: pick the cut-off date")
    try:
        cut_off = date.fromisoformat(as_of).isoformat()
    except ValueError:
        raise ValueError("as_of: a date YYYY-MM-DD") from None
    check_year(int(year))
    check_as_of(int(year), cut_off)
    return int(year), cut_off


@pages.get("/reports/{year}")
def report_page(
    request: Request, who: Annotated[Principal, allow("analyst", page=True)], year: str
) -> Response:
    from privacy.model import TABLES

    as_of = request.query_params.get("as_of")
    try:
        number, cut_off = _checked(year, as_of)
    except ValueError as refused:
        return render(
            request,
            "reports.html",
            {
                **_report_form(request),
                "year": None,
                "as_of": as_of or "",
                "tables": None,
                "error": str(refused),
            },
            422,
        )
    tables = request.app.state.reports.annual_report(number, cut_off)
    lang = _lang(request)
    titled = []
    for name, table in tables.items():
        values = table.astype(object)
        values = values.where(values.notna(), None)
        rows = [
            list(zip(table.columns, row, strict=True)) for row in values.itertuples(index=False)
        ]
        titled.append((name, getattr(TABLES.get(name), f"title_{lang}", name), table.columns, rows))
    return render(
        request,
        "reports.html",
        {
            **_report_form(request),
            "year": number,
            "as_of": cut_off,
            "tables": titled,
            "error": None,
        },
    )


@pages.get("/reports/{year}/csv")
def report_csv(
    request: Request, who: Annotated[Principal, allow("analyst", page=True)], year: str
) -> Response:
    """The CSV of one table: the same bytes as the API's (``Accept: text/csv``)."""
    try:
        number, cut_off = _checked(year, request.query_params.get("as_of"))
    except ValueError as refused:
        return render(request, "error.html", {"status": 422, "message": str(refused)}, 422)
    reports = request.app.state.reports
    names = list(reports.annual_report(number, cut_off))
    table = request.query_params.get("table")
    if table not in names:
        return render(
            request,
            "error.html",
            {"status": 422, "message": f"table: one of {', '.join(names)}"},
            422,
        )
    text = reports.rendered(
        number, cut_off, f"csv:{table}", lambda t: t[table].to_csv(index=False, na_rep="")
    )
    name = f"cmm-{number}-{cut_off}-{table}.csv"
    return secure(
        Response(
            text,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    )
