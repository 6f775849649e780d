"""Authorisation, in one place: every route declares who may call it with :func:`allow`
(roles) or :func:`public` (no token), and :func:`check_rules` refuses an app with a route
that declares neither.

- No ``Authorization: Bearer`` header, or a token that is unknown, revoked or expired: 401.
- A valid token of a role the route does not allow: 403.
- A public route never looks at a token.
- A page route (``allow(..., page=True)``) also accepts the sign-in session's cookie
  (:mod:`infra.http.sessions`), and refuses with :class:`PageRefused`, which the pages turn
  into the sign-in page (401) or a 403 page. API routes accept the bearer header alone.
- A client that presented :data:`FAILURES_ALLOWED` wrong tokens within
  :data:`FAILURE_WINDOW` seconds gets 429 on every route that needs a token until the
  window has passed, whatever it presents: guessing tokens is slowed down.

Neither tokens nor their hashes are logged or echoed; a refusal says only which of the two.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from fastapi import Depends, HTTPException, Request
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from application.access import ROLES, AccessLedger, Principal, authenticate
from infra.http.sessions import SESSION_COOKIE, Sessions

FAILURES_ALLOWED = 30
FAILURE_WINDOW = 60.0

OPEN_PATHS = frozenset({"/openapi.json"})
"""Routes FastAPI adds itself that need no rule: the API's description is public."""


class TokenFailures:
    """How many wrong tokens a client address may present, and in what window. The count
    is kept in the store (the access ledger), so every server process on it (``--workers``,
    or two servers) counts the same tries."""

    def __init__(self, allowed: int = FAILURES_ALLOWED, window: float = FAILURE_WINDOW) -> None:
        self.allowed = allowed
        self.window = window

    def blocked(self, ledger: AccessLedger, client: str) -> bool:
        return ledger.token_failures(client, time.time() - self.window) >= self.allowed

    def failed(self, ledger: AccessLedger, client: str) -> None:
        ledger.token_failed(client, time.time())


class Rule:
    """The roles a route allows (none: public). A dependency: FastAPI calls it before the
    route, with the request, and the route receives the :class:`Principal` (or None)."""

    def __init__(self, roles: Iterable[str], *, public: bool = False, page: bool = False) -> None:
        self.roles = frozenset(roles)
        self.public = public
        self.page = page
        unknown = self.roles - set(ROLES)
        if unknown:
            raise ValueError(f"unknown roles {sorted(unknown)}")
        if public == bool(self.roles):
            raise ValueError("a rule is public or names roles, not both or neither")

    def __call__(self, request: Request) -> Principal | None:
        if self.public:
            return None
        failures: TokenFailures = request.app.state.token_failures
        client = request.client.host if request.client is not None else "-"
        if failures.blocked(request.app.state.access, client):
            raise HTTPException(429, "too many wrong tokens from this address; try later")
        token = _token(request)
        if token is None and self.page:
            token = _session_token(request)
        refused = PageRefused if self.page else HTTPException
        principal = None if token is None else authenticate(request.app.state.access, token)
        request.state.principal = principal
        if token is not None and principal is None:
            failures.failed(request.app.state.access, client)
        if principal is None:
            raise refused(
                401,
                "a valid bearer token is required (Authorization: Bearer TOKEN)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if principal.role not in self.roles:
            raise refused(
                403,
                f"the role {principal.role} may not use this route "
                f"({', '.join(sorted(self.roles))} may)",
            )
        return principal


def _token(request: Request) -> str | None:
    """The bearer token the request presents, if any."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class PageRefused(HTTPException):
    """A page route's refusal (401 or 403), answered with a page rather than JSON."""


def _session_token(request: Request) -> str | None:
    """The token kept for the request's sign-in session cookie, if any. An unknown session
    id counts as a wrong token (it is guessed like one)."""
    sessions: Sessions | None = getattr(request.app.state, "sessions", None)
    session_id = request.cookies.get(SESSION_COOKIE)
    if sessions is None or not session_id:
        return None
    session = sessions.get(session_id)
    return "\0unknown session" if session is None else session.token


def allow(*roles: str, page: bool = False) -> Any:
    """The route's rule: only tokens of these roles (a ``Depends`` for its signature);
    ``page``: a web page, which also takes the sign-in session's cookie."""
    return Depends(Rule(roles, page=page))


def public() -> Any:
    """The route's rule: anyone, with no token."""
    return Depends(Rule((), public=True))


def rule_of(route: APIRoute) -> Rule | None:
    """The rule a route declared, or None."""
    rules = [d.call for d in route.dependant.dependencies if isinstance(d.call, Rule)]
    return rules[0] if len(rules) == 1 else None


class MissingRule(RuntimeError):
    """A route that declares no rule (or more than one): the app is not built."""


def check_rules(routes: Iterable[BaseRoute]) -> None:
    """Refuse (:class:`MissingRule`) any route without exactly one rule."""
    for route in routes:
        path = getattr(route, "path", repr(route))
        if isinstance(route, APIRoute):
            if rule_of(route) is None:
                raise MissingRule(
                    f"the route {sorted(route.methods or ())} {path} declares no rule"
                )
        elif path not in OPEN_PATHS:
            raise MissingRule(f"the route {path} is not an API route with a rule")
