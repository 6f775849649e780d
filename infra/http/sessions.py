"""Sign-in sessions of the web pages: a browser cannot send a bearer header, so the sign-in
form takes the token once and the server keeps it here, under a random session id that the
browser holds in an HttpOnly, SameSite=Strict cookie. The cookie never holds the token.

Every page request still checks the kept token as the API checks a bearer token
(:mod:`infra.http.rules`): a revoked or expired token ends its sessions at once. A session
lasts at most :data:`LIFETIME` seconds and never longer than its token. Kept in this process
only: a restart signs everyone out. Nothing here logs a token or a session id.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

SESSION_COOKIE = "cmm_session"
LOGIN_COOKIE = "cmm_login"
"""The sign-in form's own CSRF value (double-submitted: cookie and form field)."""

LIFETIME = 8 * 3600.0
KEPT = 10_000


@dataclass(frozen=True)
class Session:
    token: str
    csrf: str
    ends: float  # time.time()


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf8")).hexdigest()


class Sessions:
    def __init__(self, lifetime: float = LIFETIME, kept: int = KEPT) -> None:
        self.lifetime = lifetime
        self.kept = kept
        self._lock = threading.Lock()
        self._open: dict[str, Session] = {}

    def open(self, token: str, token_expires_at: str | None) -> tuple[str, int]:
        """A new session of ``token``: its id and its lifetime in seconds (no longer than
        the token's, whose expiry is an ISO stamp or None)."""
        now = time.time()
        ends = now + self.lifetime
        if token_expires_at is not None:
            expires = datetime.fromisoformat(token_expires_at.replace("Z", "+00:00"))
            ends = min(ends, expires.astimezone(UTC).timestamp())
        session_id = secrets.token_urlsafe(32)
        with self._lock:
            self._drop_ended(now)
            if len(self._open) >= self.kept:  # the oldest goes first
                del self._open[min(self._open, key=lambda k: self._open[k].ends)]
            self._open[_key(session_id)] = Session(token, secrets.token_urlsafe(32), ends)
        return session_id, max(0, int(ends - now))

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        with self._lock:
            session = self._open.get(_key(session_id))
            if session is not None and session.ends <= time.time():
                del self._open[_key(session_id)]
                return None
            return session

    def close(self, session_id: str | None) -> None:
        if session_id:
            with self._lock:
                self._open.pop(_key(session_id), None)

    def _drop_ended(self, now: float) -> None:
        for key in [k for k, s in self._open.items() if s.ends <= now]:
            del self._open[key]
