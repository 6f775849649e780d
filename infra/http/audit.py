"""The audit of every request to a route that needs a token, in one place: after the route
answered (or failed, or was refused), one entry in the audit trail with who (the token's
user, or none), the route (its template: ``/v1/cases/{person_ref}``), the person_refs it
read, the status, when and the client's address. Public routes are not audited.

Also the server's own log line of each request, which names the route's template and never
its path, query or headers, so no person_ref or token reaches a log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from application.access import record_access
from infra.http.rules import rule_of

log = logging.getLogger("cmm.http")

_REFS = "cmm_audit_person_refs"
_DETAIL = "cmm_audit_detail"


def note(
    request: Request, *, person_refs: Iterable[str] = (), detail: dict[str, Any] | None = None
) -> None:
    """What the route read (person_refs) or did (detail), for its audit entry."""
    state = request.scope.setdefault("state", {})
    state.setdefault(_REFS, []).extend(person_refs)
    if detail:
        state.setdefault(_DETAIL, {}).update(detail)


class AuditMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()
        answered = False

        async def sending(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status = int(message["status"])
                answered = True
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as error:
            # Told here by its type alone: its message or traceback may hold a person_ref,
            # and the server would log them if it were raised on.
            status = 500
            route = scope.get("route")
            log.error(
                "%s %s failed: %s",
                scope["method"],
                route.path if isinstance(route, APIRoute) else "(no route)",
                type(error).__name__,
            )
            if not answered:
                await JSONResponse({"detail": "internal error"}, status_code=500)(
                    scope, receive, send
                )
        finally:
            route = scope.get("route")
            template = route.path if isinstance(route, APIRoute) else "(no route)"
            log.info(
                "%s %s %d %.1f ms",
                scope["method"],
                template,
                status,
                (time.perf_counter() - started) * 1000,
            )
            if isinstance(route, APIRoute):
                rule = rule_of(route)
                if rule is not None and not rule.public:
                    await run_in_threadpool(self._record, scope, route, status)

    @staticmethod
    def _record(scope: Scope, route: APIRoute, status: int) -> None:
        state = scope.get("state", {})
        principal = state.get("principal")
        client = scope.get("client")
        record_access(
            scope["app"].state.access,
            who=None if principal is None else principal.name,
            role=None if principal is None else principal.role,
            action=route.name,
            route=f"{scope['method']} {route.path}",
            status=status,
            person_refs=state.get(_REFS, ()),
            client=None if client is None else str(client[0]),
            detail=state.get(_DETAIL, {}),
        )
