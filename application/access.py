"""Users, their tokens, and the audit trail: what ``cmm users``, ``cmm audit`` and the HTTP
API's one authorisation rule call.

A token is 32 random bytes (``secrets.token_urlsafe``), shown once when the user is added;
only its SHA-256 is stored. Nothing here logs or returns a token or a hash, except
:func:`add_user`, which returns the new token to show it once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from domain.access import ROLES, AuditDay, UserDirectory, UserRefused
from domain.codes import Source

__all__ = ["ROLES", "AccessLedger", "AuditRefused", "Principal", "UserRefused"]


class AuditRefused(ValueError):
    """A query of the audit trail that cannot be meant; the message starts with the field."""


USER_FIELDS = ("name", "role", "source", "expires_at", "added_by", "added_at", "revoked_at")
"""What ``cmm users list`` shows of a user (never its token's hash)."""


class AccessLedger(Protocol):
    """Where users and the audit trail are kept (``infra.ledgers.access.AccessLedger``)."""

    def directory(self) -> UserDirectory: ...

    def change_users(self, change: Callable[[UserDirectory], None]) -> None: ...

    def day(self, day: str) -> AuditDay | None: ...

    def record(self, day: str, entry: dict[str, Any]) -> None: ...

    def token_failures(self, client: str, since: float) -> int: ...

    def token_failed(self, client: str, at: float) -> None: ...


@dataclass(frozen=True)
class Principal:
    """Who a valid token belongs to."""

    name: str
    role: str
    source: str | None
    expires_at: str | None = None
    """When the token stops working (an ISO stamp, UTC), or None."""


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf8")).hexdigest()


def add_user(
    ledger: AccessLedger,
    name: str,
    role: str,
    *,
    source: str | None = None,
    expires_days: float | None = None,
    by: str,
    client: str | None = None,
    now: datetime | None = None,
) -> str:
    """Add a user and return its bearer token (the only time it exists outside the
    holder's hands). The change is recorded in the audit trail."""
    if not name or not name.isprintable() or len(name) > 100:
        raise UserRefused("NAME must be 1 to 100 printable characters")
    if expires_days is not None and not expires_days > 0:
        raise UserRefused(f"--expires {expires_days} must be a positive number of days")
    if source is not None and source not in Source.codes():
        raise UserRefused(
            f"--source {source} is not an organisation: one of {', '.join(Source.codes())}"
        )
    moment = now or _now()
    token = secrets.token_urlsafe(32)
    expires_at = None if expires_days is None else _stamp(moment + timedelta(days=expires_days))
    ledger.change_users(
        lambda users: users.add(
            name=name,
            role=role,
            source=source,
            token_hash=token_hash(token),
            expires_at=expires_at,
            added_by=by,
            added_at=_stamp(moment),
        )
    )
    record_access(
        ledger,
        who=by,
        role=None,
        action="user_added",
        route="cmm users add",
        status=0,
        client=client,
        detail={"name": name, "role": role, "source": source, "expires_at": expires_at},
        now=moment,
    )
    return token


def revoke_user(
    ledger: AccessLedger,
    name: str,
    *,
    by: str,
    client: str | None = None,
    now: datetime | None = None,
) -> None:
    """Revoke a user's token at once; the change is recorded in the audit trail."""
    moment = now or _now()
    ledger.change_users(
        lambda users: users.revoke(name=name, revoked_by=by, revoked_at=_stamp(moment))
    )
    record_access(
        ledger,
        who=by,
        role=None,
        action="user_revoked",
        route="cmm users revoke",
        status=0,
        client=client,
        detail={"name": name},
        now=moment,
    )


def list_users(ledger: AccessLedger) -> list[dict[str, Any]]:
    """Every user ever added, without its token's hash."""
    users = ledger.directory().users.values()
    return [{k: u[k] for k in USER_FIELDS} for u in sorted(users, key=lambda u: u["name"])]


def authenticate(ledger: AccessLedger, token: str, now: datetime | None = None) -> Principal | None:
    """The active, unexpired user holding ``token``, or None."""
    wanted = token_hash(token)
    for user in ledger.directory().users.values():
        # Compared in constant time: how long a refusal takes says nothing of the hashes.
        if hmac.compare_digest(user["token_hash"], wanted):
            if user["revoked_at"] is not None:
                return None
            expires = user["expires_at"]
            if expires is not None and _stamp(now or _now()) >= expires:
                return None
            return Principal(user["name"], user["role"], user["source"], expires)
    return None


def access_entry(
    *,
    who: str | None,
    role: str | None,
    action: str,
    route: str,
    status: int,
    person_refs: Iterable[str] = (),
    client: str | None = None,
    detail: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> tuple[str, dict[str, Any]]:
    """One entry of the audit trail, and the (UTC) day whose record it goes in: who, what
    (the action, the route and the person_refs read), when, from where, and the outcome (an
    HTTP status; 0 for a command)."""
    moment = now or _now()
    return moment.astimezone(UTC).date().isoformat(), {
        "who": who,
        "role": role,
        "action": action,
        "route": route,
        "status": int(status),
        "person_refs": sorted(set(person_refs)),
        "at": _stamp(moment),
        "client": client,
        "detail": detail or {},
    }


def record_access(ledger: AccessLedger, **fields: Any) -> None:
    """Append one entry (:func:`access_entry`, whose fields these are) to the audit trail."""
    ledger.record(*access_entry(**fields))


def audit(
    ledger: AccessLedger, since: date, until: date, person_ref: str | None = None
) -> list[dict[str, Any]]:
    """The audit trail's entries of the days ``since`` to ``until`` (UTC), in order;
    ``person_ref``: only the entries that read that person."""
    if until < since:
        raise AuditRefused(f"until {until} is before since {since}")
    if (until - since).days > 366:
        raise AuditRefused("until may be at most 366 days after since")
    entries: list[dict[str, Any]] = []
    day = since
    while day <= until:
        record = ledger.day(day.isoformat())
        if record is not None:
            entries.extend(record.entries)
        day += timedelta(days=1)
    if person_ref is not None:
        entries = [e for e in entries if person_ref in e["person_refs"]]
    return entries
