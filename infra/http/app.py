"""The FastAPI app of ``cmm serve``, built from the settings."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRouter

from application.access import AuditRefused
from application.report import ReportRefused
from application.report_cache import ReportCache
from infra.http.audit import AuditMiddleware, AuditWriter
from infra.http.pages import install as install_pages
from infra.http.routes import ROUTERS
from infra.http.rules import TokenFailures, check_rules
from infra.settings import Settings


def _field_of(message: str) -> str:
    """The query field a report's refusal names (its messages start with the flag)."""
    if message.startswith("by:"):
        return "by"
    return "as_of" if message.startswith("--as-of") else "year"


def create_app(
    settings: Settings,
    *,
    releases: Path | None = None,
    routers: Sequence[APIRouter] = ROUTERS,
    token_failures: TokenFailures | None = None,
) -> FastAPI:
    """The API over the configured store; ``releases``: the folder of published packages
    the public may read; ``token_failures``: how many wrong tokens a client may present
    (:class:`infra.http.rules.TokenFailures`). Refuses (``infra.http.rules.MissingRule``)
    to build an app with a route that declares no authorisation rule."""
    from infra.composition import open_access_ledger
    from infra.wiring import adapters

    app = FastAPI(
        title="CMM Ledger",
        summary="Case state, exact reports, event submission and published releases, by role.",
        docs_url=None,
        redoc_url=None,
        # The routes themselves, not included routers: each is then a route of the app that
        # check_rules (and a test walking app.routes) sees with its rule.
        routes=[route for router in routers for route in router.routes],
    )
    check_rules(app.routes)
    app.state.adapters = adapters(settings)
    app.state.reports = ReportCache(app.state.adapters)
    app.state.access = open_access_ledger(settings)
    app.state.audit_writer = AuditWriter(app.state.access)
    app.state.releases = releases
    app.state.token_failures = token_failures or TokenFailures()
    app.add_middleware(AuditMiddleware)
    install_pages(app)

    @app.exception_handler(ReportRefused)
    def refused(request: Request, error: ReportRefused) -> JSONResponse:
        message = str(error)
        return JSONResponse(
            {"detail": [{"loc": ["query", _field_of(message)], "msg": message}]},
            status_code=422,
        )

    @app.exception_handler(AuditRefused)
    def audit_refused(request: Request, error: AuditRefused) -> JSONResponse:
        message = str(error)
        return JSONResponse(
            {"detail": [{"loc": ["query", message.split()[0]], "msg": message}]},
            status_code=422,
        )

    @app.exception_handler(RequestValidationError)
    def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        # FastAPI's own answer echoes the value given ("input"): it may be a person_ref.
        return JSONResponse(
            {
                "detail": [
                    {"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in error.errors()
                ]
            },
            status_code=422,
        )

    return app
