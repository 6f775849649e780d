"""Who may reach the store over HTTP, and the record of what they did: two kinds of
event-sourced aggregates, kept in the event store beside the events (``infra.ledgers.access``).

- :class:`UserDirectory`: the one directory of users. A user has a role, for a ``source``
  user the organisation it submits as, the hash of its bearer token (never the token) and
  when the token expires. Users are added and revoked, never edited.
- :class:`AuditDay`: the accesses of one day (UTC), in the order they were recorded: who,
  what (the route and the person_refs read), when, from where and with what outcome. It has
  no way to change or remove an entry.
- :class:`TokenFailures`: when one client address presented wrong tokens, so every server
  process on the store counts the same tries.

Imports only the standard library and ``eventsourcing.domain``.
"""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

ROLES = ("admin", "analyst", "case_worker", "publisher", "source")
"""Every role a user can have; a user has exactly one."""

ACCESS_NAMESPACE = uuid5(NAMESPACE_URL, "urn:cmm-ledger:access")
DIRECTORY_ID = uuid5(ACCESS_NAMESPACE, "users")


class UserRefused(ValueError):
    """A change of users that cannot be made; the message names the option at fault."""


def audit_day_id(day: str) -> UUID:
    """The audit record of ``day`` (YYYY-MM-DD): name-based, so every process finds it."""
    return uuid5(ACCESS_NAMESPACE, f"audit/{day}")


class UserDirectory(Aggregate):
    """Every user ever added, by name; a revoked user stays, marked revoked."""

    @staticmethod
    def create_id() -> UUID:
        return DIRECTORY_ID

    @event("UserDirectoryOpened")
    def __init__(self) -> None:
        self.users: dict[str, dict[str, Any]] = {}

    def add(
        self,
        *,
        name: str,
        role: str,
        source: str | None,
        token_hash: str,
        expires_at: str | None,
        added_by: str,
        added_at: str,
    ) -> None:
        """Add a user (refused while a user of that name is active)."""
        if role not in ROLES:
            raise UserRefused(f"--role {role} is not a role: one of {', '.join(ROLES)}")
        if (role == "source") != (source is not None):
            raise UserRefused(
                "--source is required for the role source (the organisation it submits as), "
                "and only for it"
            )
        known = self.users.get(name)
        if known is not None and known["revoked_at"] is None:
            raise UserRefused(f"NAME {name}: a user of that name exists (revoke it first)")
        if any(u["token_hash"] == token_hash for u in self.users.values()):
            raise UserRefused("the token is not new")  # never: tokens are random
        self._added(
            name=name,
            role=role,
            source=source,
            token_hash=token_hash,
            expires_at=expires_at,
            added_by=added_by,
            added_at=added_at,
        )

    @event("UserAdded")
    def _added(
        self,
        name: str,
        role: str,
        source: str | None,
        token_hash: str,
        expires_at: str | None,
        added_by: str,
        added_at: str,
    ) -> None:
        self.users[name] = {
            "name": name,
            "role": role,
            "source": source,
            "token_hash": token_hash,
            "expires_at": expires_at,
            "added_by": added_by,
            "added_at": added_at,
            "revoked_at": None,
            "revoked_by": None,
        }

    def revoke(self, *, name: str, revoked_by: str, revoked_at: str) -> None:
        """Revoke an active user's token (refused for a name with no active user)."""
        known = self.users.get(name)
        if known is None or known["revoked_at"] is not None:
            raise UserRefused(f"NAME {name}: no active user of that name")
        self._revoked(name=name, revoked_by=revoked_by, revoked_at=revoked_at)

    @event("UserRevoked")
    def _revoked(self, name: str, revoked_by: str, revoked_at: str) -> None:
        self.users[name] = {**self.users[name], "revoked_at": revoked_at, "revoked_by": revoked_by}

    def by_token_hash(self, token_hash: str) -> dict[str, Any] | None:
        for user in self.users.values():
            if user["token_hash"] == token_hash:
                return user
        return None


class AuditDay(Aggregate):
    """The accesses of one day (UTC), appended in the order they were recorded."""

    @staticmethod
    def create_id(day: str) -> UUID:
        return audit_day_id(day)

    @event("AuditDayOpened")
    def __init__(self, day: str) -> None:
        self.day = day
        self.entries: list[dict[str, Any]] = []

    @event("AccessRecorded")
    def record(
        self,
        who: str | None,
        role: str | None,
        action: str,
        route: str,
        status: int,
        person_refs: list[str],
        at: str,
        client: str | None,
        detail: dict[str, Any],
    ) -> None:
        self.entries.append(
            {
                "who": who,
                "role": role,
                "action": action,
                "route": route,
                "status": status,
                "person_refs": list(person_refs),
                "at": at,
                "client": client,
                "detail": dict(detail),
            }
        )


def token_failures_id(client: str) -> UUID:
    """The wrong tokens of one client address: name-based, so every process finds it."""
    return uuid5(ACCESS_NAMESPACE, f"token-failures/{client}")


class TokenFailures(Aggregate):
    """When one client address presented a wrong token (seconds since the epoch)."""

    @staticmethod
    def create_id(client: str) -> UUID:
        return token_failures_id(client)

    @event("TokenFailuresOpened")
    def __init__(self, client: str) -> None:
        self.client = client
        self.times: list[float] = []

    @event("TokenFailed")
    def failed(self, at: float) -> None:
        self.times.append(at)

    def since(self, moment: float) -> int:
        """How many wrong tokens were presented after ``moment``."""
        return sum(1 for t in self.times if t > moment)
