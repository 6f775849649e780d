"""The audit of every request to a route that needs a token, in one place: after the route
answered (or failed, or was refused), one entry in the audit trail with who (the token's
user, or none), the route (its template: ``/v1/cases/{person_ref}``), the person_refs it
read, the status, when and the client's address. Public routes are not audited.

Also the server's own log line of each request, which names the route's template and never
its path, query or headers, so no person_ref or token reaches a log.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from application.access import access_entry
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


IDLE_SECONDS = 1.0
"""How long the audit writer's thread waits for an entry before it ends."""


class AuditWriter:
    """Writes the server's audit entries, from one thread of its own: a request hands its
    entry over and waits until it is stored. The entries handed over while one batch is
    being written are written next, together, in one transaction (a group commit), so a
    server under many clients commits once per round of requests rather than once per
    request, and no request spends a worker thread of its own on it (``bench.bench_http``'s
    warm p95)."""

    def __init__(self, ledger: Any) -> None:
        self._ledger = ledger
        self._queue: queue.SimpleQueue[tuple[str, dict[str, Any], Future[None]]] = (
            queue.SimpleQueue()
        )
        self._started = threading.Lock()
        self._thread: threading.Thread | None = None

    async def write(self, day: str, entry: dict[str, Any]) -> None:
        """Store ``entry`` in the day's record; returns once it is stored (or raises what
        storing it raised)."""
        done: Future[None] = Future()
        self._queue.put((day, entry, done))
        self._start()
        await asyncio.wrap_future(done)

    def _start(self) -> None:
        with self._started:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="cmm-audit", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                batch = [self._queue.get(timeout=IDLE_SECONDS)]
            except queue.Empty:
                # Idle: the thread ends (and lets go of the ledger and its connections);
                # the next entry starts another. An entry put meanwhile is seen here.
                with self._started:
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                with self._ledger.writing:
                    self._ledger.record_entries([(day, entry) for day, entry, _ in batch])
            except BaseException as error:  # handed to the requests that wait for it
                for _, _, done in batch:
                    done.set_exception(error)
            else:
                for _, _, done in batch:
                    done.set_result(None)


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
                    await self._record(scope, route, status)

    @staticmethod
    async def _record(scope: Scope, route: APIRoute, status: int) -> None:
        state = scope.get("state", {})
        principal = state.get("principal")
        client = scope.get("client")
        writer: AuditWriter = scope["app"].state.audit_writer
        await writer.write(
            *access_entry(
                who=None if principal is None else principal.name,
                role=None if principal is None else principal.role,
                action=route.name,
                route=f"{scope['method']} {route.path}",
                status=status,
                person_refs=state.get(_REFS, ()),
                client=None if client is None else str(client[0]),
                detail=state.get(_DETAIL, {}),
            )
        )
