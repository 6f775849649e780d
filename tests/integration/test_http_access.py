"""The HTTP API's access rules, audit trail and event submission, on a real SQLite store and
on PostgreSQL.

The isolation test walks every route the app serves with a token of every role, with a
revoked one and with none, and checks each answer against the rule written here for that
route: a route added without a rule fails it (and ``create_app`` refuses to build)."""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from application.access import ROLES, add_user, audit, revoke_user
from application.ingest import ingest
from application.report import annual_report
from infra.composition import open_access_ledger
from infra.http.app import create_app
from infra.http.routes import ROUTERS
from infra.http.rules import MissingRule, allow
from infra.settings import Settings
from infra.wiring import adapters
from tests.integration.conftest import (
    CmmProcess,
    cmm_env,
    create_database,
    drop_database,
    run_cmm,
    sample_events,
    wait_until,
)

YEAR, AS_OF = 2012, "2013-01-31"

RULES: dict[tuple[str, str], frozenset[str] | None] = {
    ("GET", "/v1/reports/{year}"): frozenset({"analyst"}),
    ("GET", "/v1/facts/counts"): frozenset({"analyst"}),
    ("GET", "/v1/cases/{person_ref}"): frozenset({"case_worker"}),
    ("GET", "/v1/cases"): frozenset({"case_worker"}),
    ("POST", "/v1/events"): frozenset({"source"}),
    ("GET", "/v1/audit"): frozenset({"admin"}),
    ("GET", "/v1/budget/{year}"): frozenset({"publisher"}),
    ("POST", "/v1/releases"): frozenset({"publisher"}),
    ("GET", "/v1/releases"): None,  # public
    ("GET", "/v1/releases/{release_id}/{name}"): None,
    # The web pages (infra.http.pages): the same rules, a session cookie or a bearer header.
    ("GET", "/"): None,
    ("GET", "/releases"): None,
    ("GET", "/static/pages.css"): None,
    ("GET", "/login"): None,
    ("POST", "/login"): None,  # refuses a form without its CSRF value: 403
    ("POST", "/logout"): None,
    ("GET", "/cases"): frozenset({"case_worker"}),
    ("GET", "/cases/{person_ref}"): frozenset({"case_worker"}),
    ("GET", "/reports"): frozenset({"analyst"}),
    ("GET", "/reports/{year}"): frozenset({"analyst"}),
    ("GET", "/reports/{year}/csv"): frozenset({"analyst"}),
}
"""Who may call each route (None: anyone, with no token). Every route of the app must be
here: a new route is reviewed here, with its rule."""


class World:
    """A store with the 2012 events, a user of every role, a revoked one, and a release."""

    def __init__(self, root: Path, settings: Settings) -> None:
        self.settings = settings
        self.events = sample_events()
        source_file = root / "events.jsonl"
        source_file.write_text("".join(json.dumps(e) + "\n" for e in self.events), encoding="utf8")
        report = ingest(adapters(self.settings), source_file, workers=0)
        assert report.ok and report.appended == len(self.events)
        self.case_event = next(e for e in self.events if e.get("person_ref"))
        self.person_ref = self.case_event["person_ref"]
        self.source = self.case_event["source"]
        ledger = open_access_ledger(self.settings)
        self.tokens: dict[str, str] = {}
        for role in ROLES:
            self.tokens[role] = add_user(
                ledger,
                f"user-{role}",
                role,
                source=self.source if role == "source" else None,
                by="test",
            )
        self.revoked = add_user(ledger, "gone", "admin", by="test")
        revoke_user(ledger, "gone", by="test")
        self.releases = root / "published"
        package = self.releases / "open-data-2012"
        package.mkdir(parents=True)
        (package / "datapackage.json").write_text(
            json.dumps({"name": "cmm-2012", "resources": [{"name": "t", "path": "t.csv"}]}),
            encoding="utf8",
        )
        (package / "t.csv").write_text("a,b\n1,2\n", encoding="utf8")
        (package / "secret.txt").write_text("not listed", encoding="utf8")
        (root / "outside.txt").write_text("outside", encoding="utf8")

    def app(self) -> FastAPI:
        return create_app(self.settings, releases=self.releases)

    def headers(self, role: str | None) -> dict[str, str]:
        return {} if role is None else {"Authorization": f"Bearer {self.tokens[role]}"}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """The same world on SQLite and on PostgreSQL (a database of its own, dropped after)."""
    root = tmp_path_factory.mktemp(f"http-{request.param}")
    if request.param == "sqlite":
        yield World(root, Settings(data_dir=root / "data"))
        return
    admin_dsn = request.getfixturevalue("postgres_dsn")
    dsn = create_database(admin_dsn)
    try:
        yield World(root, Settings(data_dir=root / "data", store="postgres", postgres_dsn=dsn))
    finally:
        drop_database(admin_dsn, dsn)


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(world.app()) as test_client:
        yield test_client


def _call(client: TestClient, world: World, route: APIRoute, headers: dict[str, str]) -> Any:
    values = {
        "year": str(YEAR),
        "person_ref": world.person_ref,
        "release_id": "open-data-2012",
        "name": "t.csv",
    }
    path = route.path.format(**{p: values[p] for p in route.param_convertors})
    method = next(iter(route.methods))
    if method == "POST" and path == "/v1/releases":
        # The year is not open: an allowed caller is refused by the budget, not the rule.
        return client.post(path, params={"year": str(YEAR), "as_of": AS_OF}, headers=headers)
    if method == "POST":
        return client.post(
            path,
            content=json.dumps(world.case_event),
            headers={**headers, "Content-Type": "application/json"},
        )
    params = {"as_of": AS_OF, "year": str(YEAR), "by": "gender"}
    if not path.startswith("/v1/"):
        params = {"as_of": AS_OF, "table": "by_gender"}
    return client.request(method, path, params=params, headers=headers)


def test_every_route_with_every_role_and_none(world: World, client: TestClient) -> None:
    routes = [r for r in client.app.routes if isinstance(r, APIRoute)]  # type: ignore[attr-defined]
    served = {(m, r.path) for r in routes for m in r.methods}
    assert served == set(RULES), "every route needs its rule here (and only served routes)"
    callers: list[tuple[str | None, dict[str, str]]] = [
        (role, world.headers(role)) for role in ROLES
    ]
    callers += [
        (None, {}),
        (None, {"Authorization": f"Bearer {world.revoked}"}),
        (None, {"Authorization": "Bearer not-a-token"}),
        (None, {"Authorization": f"Basic {world.tokens['admin']}"}),
    ]
    for route in routes:
        allowed = RULES[(next(iter(route.methods)), route.path)]
        for role, headers in callers:
            answer = _call(client, world, route, headers)
            where = f"{route.path} as {role or headers or 'nobody'}"
            assert answer.status_code < 500, where
            if (next(iter(route.methods)), route.path) == ("POST", "/v1/releases"):
                ok = 409 if role == "publisher" else 200  # no budget allocated in this walk
            elif (next(iter(route.methods)), route.path) == ("POST", "/login"):
                ok = 403  # the walk's form has no CSRF value
            else:
                ok = 200
            if allowed is None or (role is not None and role in allowed):
                assert answer.status_code == ok, f"{where}: {answer.text}"
            elif role is None:
                assert answer.status_code == 401, where
                if route.path.startswith("/v1/"):
                    assert answer.headers["www-authenticate"] == "Bearer"
                else:  # a page answers with the sign-in form
                    assert 'action="/login"' in answer.text, where
            else:
                assert answer.status_code == 403, where
            if allowed is not None and answer.status_code != 200:
                assert world.person_ref not in answer.text, where


def test_a_route_without_a_rule_is_not_served(world: World) -> None:
    extra = APIRouter()

    @extra.get("/v1/everything")
    def everything() -> str:
        return "all of it"

    with pytest.raises(MissingRule, match=r"/v1/everything declares no rule"):
        create_app(world.settings, routers=[*ROUTERS, extra])

    ruled = APIRouter()

    @ruled.get("/v1/ruled")
    def ruled_route(who: Annotated[Any, allow("admin")]) -> str:
        return "ok"

    create_app(world.settings, routers=[*ROUTERS, ruled])  # the same route with a rule builds


def test_the_analyst_gets_the_exact_report_as_json_and_csv(
    world: World, client: TestClient
) -> None:
    tables = annual_report(adapters(world.settings), YEAR, AS_OF)
    answer = client.get(
        f"/v1/reports/{YEAR}", params={"as_of": AS_OF}, headers=world.headers("analyst")
    )
    assert answer.status_code == 200
    document = answer.json()
    assert (document["year"], document["as_of"]) == (YEAR, AS_OF)
    assert set(document["tables"]) == set(tables)
    name = next(iter(tables))
    csv = client.get(
        f"/v1/reports/{YEAR}",
        params={"as_of": AS_OF, "table": name},
        headers={**world.headers("analyst"), "Accept": "text/csv"},
    )
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text == tables[name].to_csv(index=False, na_rep="")
    assert "person_ref" not in answer.text and world.person_ref not in answer.text


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"as_of": "2012-06-30"}, "as_of"),
        ({"as_of": "31-01-2013"}, "as_of"),
        ({}, "as_of"),
        ({"as_of": AS_OF, "table": "nope"}, "table"),
    ],
)
def test_a_refused_report_names_the_field(
    world: World, client: TestClient, params: dict[str, str], field: str
) -> None:
    answer = client.get(f"/v1/reports/{YEAR}", params=params, headers=world.headers("analyst"))
    assert answer.status_code == 422
    assert field in json.dumps(answer.json()["detail"])


def _entries(world: World) -> list[dict[str, Any]]:
    from datetime import UTC, datetime

    today = datetime.now(UTC).date()
    return audit(open_access_ledger(world.settings), today, today)


def test_case_reads_are_audited_failed_ones_too(world: World, client: TestClient) -> None:
    before = len(_entries(world))
    read = client.get(
        f"/v1/cases/{world.person_ref}", headers=world.headers("case_worker"), timeout=120
    )
    assert read.status_code == 200 and read.json()["case"]["person_ref"] == world.person_ref
    timeline = read.json()["timeline"]
    mine = [e for e in world.events if e.get("person_ref") == world.person_ref]
    assert sorted(e["event_id"] for e in timeline) == sorted(e["event_id"] for e in mine)
    assert [e["occurred_at"] for e in timeline] == sorted(e["occurred_at"] for e in timeline)
    missing = "ZZ-0123456789abcdef"
    assert (
        client.get(f"/v1/cases/{missing}", headers=world.headers("case_worker")).status_code == 404
    )
    assert (
        client.get(f"/v1/cases/{world.person_ref}", headers=world.headers("analyst")).status_code
        == 403
    )
    assert client.get(f"/v1/cases/{world.person_ref}").status_code == 401
    flagged = client.get(
        "/v1/cases", params={"flagged": "true"}, headers=world.headers("case_worker")
    )
    assert flagged.status_code == 200
    entries = _entries(world)[before:]
    assert [(e["who"], e["status"], e["route"]) for e in entries] == [
        ("user-case_worker", 200, "GET /v1/cases/{person_ref}"),
        ("user-case_worker", 404, "GET /v1/cases/{person_ref}"),
        ("user-analyst", 403, "GET /v1/cases/{person_ref}"),
        (None, 401, "GET /v1/cases/{person_ref}"),
        ("user-case_worker", 200, "GET /v1/cases"),
    ]
    assert entries[0]["person_refs"] == [world.person_ref]
    assert entries[1]["person_refs"] == [missing]
    assert entries[4]["person_refs"] == sorted({r["person_ref"] for r in flagged.json()})
    assert all(e["client"] == "testclient" and e["at"] for e in entries)
    # ... and the admin reads them, over the API too
    trail = client.get("/v1/audit", headers=world.headers("admin"))
    assert trail.status_code == 200
    assert [e["at"] for e in entries] == [
        e["at"] for e in trail.json() if e["at"] in {x["at"] for x in entries}
    ]
    by_person = client.get(
        "/v1/audit", params={"person_ref": missing}, headers=world.headers("admin")
    )
    assert [e["status"] for e in by_person.json()] == [404]


def test_no_route_can_change_the_audit_trail(world: World, client: TestClient) -> None:
    writes = {(m, p) for m, p in RULES if m != "GET"}
    assert writes == {
        ("POST", "/v1/events"),
        ("POST", "/v1/releases"),
        ("POST", "/login"),
        ("POST", "/logout"),
    }
    before = _entries(world)
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        answer = client.request(method, "/v1/audit", headers=world.headers("admin"))
        assert answer.status_code == 405
    assert _entries(world)[: len(before)] == before


def test_a_source_submits_only_as_itself_with_the_reasons_of_ingest(
    world: World, client: TestClient
) -> None:
    headers = {**world.headers("source"), "Content-Type": "application/x-ndjson"}
    mine = {**world.case_event, "event_id": str(uuid.uuid4())}
    other_source = "police" if world.source != "police" else "hotline"
    theirs = {**world.case_event, "event_id": str(uuid.uuid4()), "source": other_source}
    bad_age = {
        **world.case_event,
        "event_id": str(uuid.uuid4()),
        "payload": {**world.case_event["payload"], "age": "30"},
    }
    body = "\n".join(json.dumps(e) for e in (mine, theirs, bad_age, world.case_event)) + "\n"
    answer = client.post("/v1/events", content=body, headers=headers)
    assert answer.status_code == 422
    result = answer.json()
    assert (result["lines"], result["stored"], result["duplicates"]) == (4, 1, 1)
    reasons = {r["line"]: r["reason"] for r in result["rejected"]}
    assert set(reasons) == {2, 3}
    assert reasons[2].startswith("source:")
    assert "age" in reasons[3]
    assert world.person_ref not in answer.text
    # The same batch again stores nothing new: idempotent by event_id.
    again = client.post("/v1/events", content=body, headers=headers).json()
    assert (again["stored"], again["duplicates"]) == (0, 2)
    # One event, pretty-printed JSON, is one event.
    single = {**world.case_event, "event_id": str(uuid.uuid4())}
    one = client.post(
        "/v1/events",
        content=json.dumps(single, indent=2),
        headers={**world.headers("source"), "Content-Type": "application/json"},
    )
    assert one.status_code == 200 and one.json()["stored"] == 1
    # A compressed body would pass the check of each line's source unread: refused whole.
    import gzip

    theirs_only = json.dumps({**theirs, "event_id": str(uuid.uuid4())}).encode()
    packed = client.post("/v1/events", content=gzip.compress(theirs_only), headers=headers)
    assert packed.status_code == 415 and "gzip" in packed.text
    posts = [e for e in _entries(world) if e["route"] == "POST /v1/events"]
    assert posts[-1]["status"] == 415 and posts[-1]["who"] == "user-source"
    assert posts[-2]["detail"] == {"lines": 1, "stored": 1, "rejected": 0}


def _correction(target: dict[str, Any], source: str, person_ref: str | None) -> dict[str, Any]:
    event = {
        "event_id": str(uuid.uuid4()),
        "type": "CorrectionRecorded",
        "schema_version": 1,
        "occurred_at": "2013-03-01T09:00:00Z",
        "recorded_at": "2013-03-01T09:00:00Z",
        "source": source,
        "payload": {
            "target_event_id": target["event_id"],
            "target_type": target["type"],
            "action": "retract",
            "reason": "data_entry_error",
        },
    }
    return event if person_ref is None else {**event, "person_ref": person_ref}


def test_a_source_corrects_only_its_own_organisations_events(
    world: World, client: TestClient
) -> None:
    headers = {**world.headers("source"), "Content-Type": "application/x-ndjson"}
    mine = {**world.case_event, "event_id": str(uuid.uuid4())}
    theirs = next(
        e
        for e in world.events
        if e.get("person_ref") == world.person_ref and e["source"] != world.source
    )
    log_event = next(e for e in world.events if not e.get("person_ref"))
    for target, person_ref in ((theirs, world.person_ref), (log_event, None)):
        forged = _correction(target, world.source, person_ref)
        body = "".join(json.dumps(e) + "\n" for e in (mine, forged))
        answer = client.post("/v1/events", content=body, headers=headers)
        assert answer.status_code == 403, answer.text
        assert "only its own organisation" in answer.json()["detail"]
        assert world.person_ref not in answer.text
    # Nothing of the refused bodies was stored: the valid event in them is new still.
    alone = client.post("/v1/events", content=json.dumps(mine) + "\n", headers=headers)
    assert alone.status_code == 200 and alone.json()["stored"] == 1
    # Its own stored event, and an event of the same body, it may correct.
    own = _correction(world.case_event, world.source, world.person_ref)
    fresh = {**world.case_event, "event_id": str(uuid.uuid4())}
    of_fresh = _correction(fresh, world.source, world.person_ref)
    body = "".join(json.dumps(e) + "\n" for e in (own, fresh, of_fresh))
    answer = client.post("/v1/events", content=body, headers=headers)
    assert answer.status_code == 200 and answer.json()["stored"] == 3, answer.text
    posts = [e for e in _entries(world) if e["route"] == "POST /v1/events"]
    assert [e["status"] for e in posts[-4:]] == [403, 403, 200, 200]


def test_public_release_routes_reach_nothing_else(world: World, client: TestClient) -> None:
    listing = client.get("/v1/releases").json()
    assert [r["id"] for r in listing] == ["open-data-2012"]
    assert listing[0]["files"] == ["datapackage.json", "t.csv"]
    assert client.get("/v1/releases/open-data-2012/t.csv").text == "a,b\n1,2\n"
    for path in (
        "/v1/releases/open-data-2012/secret.txt",
        "/v1/releases/open-data-2012/..%2Foutside.txt",
        "/v1/releases/..%2F/outside.txt",
        "/v1/releases/..%2Fdata/events.sqlite3",
        "/v1/releases/open-data-2012/%2E%2E%2F%2E%2E%2Fdata%2Fevents.sqlite3",
    ):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert "outside" not in answer.text and "not listed" not in answer.text


def test_a_revoked_or_expired_token_is_refused(world: World, client: TestClient) -> None:
    from datetime import UTC, datetime, timedelta

    ledger = open_access_ledger(world.settings)
    token = add_user(
        ledger,
        "brief",
        "admin",
        expires_days=1,
        by="test",
        now=datetime.now(UTC) - timedelta(days=2),
    )
    assert client.get("/v1/audit", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    fresh = add_user(ledger, "fresh", "admin", expires_days=1, by="test")
    assert client.get("/v1/audit", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200
    revoke_user(ledger, "fresh", by="test")
    assert client.get("/v1/audit", headers={"Authorization": f"Bearer {fresh}"}).status_code == 401


def test_logs_hold_no_person_ref_or_token(
    world: World, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        client.get(
            f"/v1/cases/{world.person_ref}", headers=world.headers("case_worker"), timeout=120
        )
        client.get(f"/v1/cases/{world.person_ref}", headers=world.headers("analyst"))
        client.get(
            "/v1/audit", params={"person_ref": world.person_ref}, headers=world.headers("admin")
        )
    # The server's records (httpx's are the test client's own, of the URLs it called).
    text = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    assert "GET /v1/cases/{person_ref} 200" in text  # the log is there, by template
    for secret in (world.person_ref, *world.tokens.values()):
        assert secret not in text


def test_cmm_users_prints_the_token_once_and_stores_its_hash(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    env = cmm_env(settings)
    for read in (["users", "list"], ["audit"], ["users", "revoke", "feed"]):
        nothing = run_cmm(read, env)
        assert nothing.returncode == 2 and "no event store" in nothing.stderr
        assert not settings.data_dir.exists()  # read commands never create a data directory
    added = run_cmm(["users", "add", "feed", "--role", "source", "--source", "police"], env)
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip().splitlines()[-1]
    assert len(token) >= 40 and token not in added.stderr
    stored = (settings.data_dir / "events.sqlite3").read_bytes()
    for wal in settings.data_dir.glob("events.sqlite3-wal"):
        stored += wal.read_bytes()
    digest = hashlib.sha256(token.encode()).hexdigest()
    # Neither the token nor its hash can be read in the file (the store is sealed), and what
    # the store keeps, opened with the key, is the hash alone.
    assert token.encode() not in stored and digest.encode() not in stored
    ledger = open_access_ledger(settings)
    try:
        users = ledger.directory().users
    finally:
        ledger.close()
    assert [u["token_hash"] for u in users.values()] == [digest]
    assert token not in json.dumps(users, default=str)
    listed = run_cmm(["users", "list"], env)
    assert "feed" in listed.stdout and token not in listed.stdout
    refused = run_cmm(["users", "add", "x", "--role", "source"], env)
    assert refused.returncode == 2 and "--source" in refused.stderr
    assert run_cmm(["users", "revoke", "feed"], env).returncode == 0
    trail = run_cmm(["audit"], env)
    actions = [json.loads(line)["action"] for line in trail.stdout.splitlines()]
    assert actions == ["user_added", "user_revoked"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_cmm_serve_answers_on_its_port(world: World, tmp_path: Path) -> None:
    import httpx

    port = _free_port()
    server = CmmProcess(
        ["serve", "--host", "127.0.0.1", "--port", str(port), "--releases", str(world.releases)],
        cmm_env(world.settings),
        tmp_path / "serve.log",
    )
    try:

        def listening() -> bool:
            assert server.proc.poll() is None, server.output()
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", port)) == 0

        wait_until(listening, 60, f"cmm serve on port {port}")
        base = f"http://127.0.0.1:{port}"
        assert [r["id"] for r in httpx.get(f"{base}/v1/releases", timeout=120).json()] == [
            "open-data-2012"
        ]
        read = httpx.get(
            f"{base}/v1/cases/{world.person_ref}",
            headers=world.headers("case_worker"),
            timeout=120,  # a loaded machine: a wait, not a synchronisation
        )
        assert read.status_code == 200
        assert (
            httpx.get(f"{base}/openapi.json", timeout=120).json()["info"]["title"] == "CMM Ledger"
        )
    finally:
        server.kill()
    assert world.person_ref not in server.output()
    assert "GET /v1/cases/{person_ref} 200" in server.output()


def test_guessing_tokens_is_slowed_down(world: World) -> None:
    from infra.http.rules import TokenFailures

    app = create_app(world.settings, token_failures=TokenFailures(allowed=3, window=3600))
    # An address of its own: the count is kept in the store, for every test of this store.
    with TestClient(app, client=("198.51.100.7", 50000)) as client:
        good = world.headers("admin")
        assert client.get("/v1/audit", headers=good).status_code == 200
        for attempt in range(3):
            wrong = {"Authorization": f"Bearer guess-{attempt}"}
            assert client.get("/v1/audit", headers=wrong).status_code == 401
        assert client.get("/v1/audit", headers=good).status_code == 429
        assert client.get("/v1/releases").status_code == 200  # public routes stay open


def test_every_server_on_the_store_counts_the_same_wrong_tokens(world: World) -> None:
    """Two servers on one store (as ``--workers 2``, or two ``cmm serve``): a guesser's
    tries at both add up, so it gets no more of them than from one."""
    from infra.http.rules import TokenFailures

    def server() -> FastAPI:
        return create_app(world.settings, token_failures=TokenFailures(allowed=3, window=3600))

    # A client address of its own: the other tests' wrong tokens do not count here.
    address = ("192.0.2.7", 50000)
    with (
        TestClient(server(), client=address) as one,
        TestClient(server(), client=address) as other,
    ):
        good = world.headers("admin")
        assert one.get("/v1/audit", headers=good).status_code == 200
        for attempt, client in enumerate((one, other, one)):
            wrong = {"Authorization": f"Bearer guess-{attempt}"}
            assert client.get("/v1/audit", headers=wrong).status_code == 401
        assert one.get("/v1/audit", headers=good).status_code == 429
        assert other.get("/v1/audit", headers=good).status_code == 429


def _cells(frame: Any) -> list[list[Any]]:
    """A frame's values, missing ones as None (NaN and NA alike), numbers compared as numbers."""
    values = frame.astype(object)
    values = values.where(values.notna(), None)
    return [list(row) for row in values.itertuples(index=False)]


def test_the_python_client_returns_the_report_as_labelled_frames(
    world: World, client: TestClient
) -> None:
    from infra.http.client import ApiError, Client

    api = Client(token=world.tokens["analyst"], http=client)
    tables = api.report(YEAR, AS_OF)
    expected = annual_report(adapters(world.settings), YEAR, AS_OF)
    assert set(tables) == set(expected)
    for name, frame in tables.items():
        plain = frame[[c for c in frame.columns if not str(c).endswith("_label")]]
        want = expected[name]
        assert list(plain.columns) == [str(c) for c in want.columns], name
        assert _cells(plain) == _cells(want), name
        assert frame.attrs["as_of"] == AS_OF
    by_exploitation = tables["by_exploitation"]
    assert "exploitation_label" in by_exploitation.columns
    assert "Forced labour" in set(by_exploitation["exploitation_label"])
    with pytest.raises(ApiError, match="as_of"):
        api.report(YEAR, "2012-06-30")
    with pytest.raises(ApiError) as refused:
        api.cases()
    assert refused.value.status == 403


def test_a_kept_report_gives_way_to_new_events(world: World, client: TestClient) -> None:
    analyst = world.headers("analyst")
    params = {"as_of": AS_OF}
    before = client.get(f"/v1/reports/{YEAR}", params=params, headers=analyst).json()
    assert client.get(f"/v1/reports/{YEAR}", params=params, headers=analyst).json() == before
    person = f"{world.person_ref.split('-')[0]}-{uuid.uuid4().hex[:16]}"
    new_case = [
        {**e, "event_id": str(uuid.uuid4()), "person_ref": person}
        for e in world.events
        if e.get("person_ref") == world.person_ref and e["source"] == world.source
    ]
    body = "\n".join(json.dumps(e) for e in new_case)
    posted = client.post(
        "/v1/events",
        content=body,
        headers={**world.headers("source"), "Content-Type": "application/x-ndjson"},
    )
    assert posted.status_code == 200 and posted.json()["stored"] == len(new_case)
    after = client.get(f"/v1/reports/{YEAR}", params=params, headers=analyst).json()
    assert after["tables"] != before["tables"]
    from infra.report_out import report_document

    exact = report_document(annual_report(adapters(world.settings), YEAR, AS_OF), YEAR, AS_OF)
    assert after["tables"] == json.loads(json.dumps(exact["tables"]))


def test_cases_needing_attention(world: World, client: TestClient) -> None:
    worker = world.headers("case_worker")
    every = client.get("/v1/cases", headers=worker).json()
    offered = [r for r in every if r["status"] == "offered" and r["status_on"]]
    assert offered, "the 2012 profile has cases offered support with no answer yet"
    on = "2013-01-31"

    def unanswered(days: int) -> set[str]:
        answer = client.get("/v1/cases", params={"unanswered_days": days, "on": on}, headers=worker)
        assert answer.status_code == 200
        return {r["person_ref"] for r in answer.json()}

    from datetime import date, timedelta

    for days in (0, 30, 90):
        latest = (date.fromisoformat(on) - timedelta(days=days)).isoformat()
        assert unanswered(days) == {r["person_ref"] for r in offered if r["status_on"] <= latest}
    assert unanswered(30) <= unanswered(0)
    flagged = client.get("/v1/cases", params={"flagged": "true"}, headers=worker).json()
    assert {r["person_ref"] for r in flagged} == {r["person_ref"] for r in every if r["flags"]}
    refused = client.get("/v1/cases", params={"unanswered_days": -1}, headers=worker)
    assert refused.status_code == 422 and "unanswered_days" in refused.text


def test_the_analyst_counts_by_any_dimensions(world: World, client: TestClient) -> None:
    analyst = world.headers("analyst")
    tables = annual_report(adapters(world.settings), YEAR, AS_OF)
    answer = client.get(
        "/v1/facts/counts",
        params={"by": "gender", "year": YEAR, "as_of": AS_OF},
        headers=analyst,
    )
    assert answer.status_code == 200
    counted = {r["gender"]: r["count"] for r in answer.json()["counts"]}
    by_gender = tables["by_gender"]
    expected = {
        g: int(c) for g, c in zip(by_gender["gender"], by_gender["count"], strict=True) if c
    }
    assert counted == expected
    assert answer.json()["labels"]["gender"]["female"]["en"] == "Female"
    two = client.get(
        "/v1/facts/counts",
        params={"by": "gender,exploitation", "year": YEAR, "as_of": AS_OF},
        headers=analyst,
    ).json()["counts"]
    assert sum(r["count"] for r in two) == sum(counted.values())
    assert all(set(r) == {"gender", "exploitation", "count"} for r in two)
    for by in ("person_ref", "age", "gender,gender", ""):
        refused = client.get(
            "/v1/facts/counts", params={"by": by, "year": YEAR, "as_of": AS_OF}, headers=analyst
        )
        assert refused.status_code == 422, by
        assert "by" in json.dumps(refused.json()["detail"])
        assert world.person_ref not in refused.text


def test_a_publisher_publishes_and_reads_the_budget(world: World, client: TestClient) -> None:
    from application.budget import allocate_budget

    publisher = world.headers("publisher")
    before = {r["id"] for r in client.get("/v1/releases").json()}
    refused = client.post(
        "/v1/releases", params={"year": 2011, "as_of": "2012-01-31"}, headers=publisher
    )
    assert refused.status_code == 409 and "year" in refused.text
    allocate_budget(adapters(world.settings), YEAR, 5.0, "test")
    made = client.post("/v1/releases", params={"year": YEAR, "as_of": AS_OF}, headers=publisher)
    assert made.status_code == 200, made.text
    release = made.json()
    assert "report.html" in release["files"] and "datapackage.json" in release["files"]
    assert {r["id"] for r in client.get("/v1/releases").json()} == before | {release["id"]}
    budget = client.get(f"/v1/budget/{YEAR}", headers=publisher).json()
    assert budget["spent_total"] == pytest.approx(5.0)
    again = client.post("/v1/releases", params={"year": YEAR, "as_of": AS_OF}, headers=publisher)
    assert again.status_code == 409  # the year's budget is spent
    assert {r["id"] for r in client.get("/v1/releases").json()} == before | {release["id"]}
    publishes = [e for e in _entries(world) if e["route"] == "POST /v1/releases"]
    assert [e["status"] for e in publishes[-3:]] == [409, 200, 409]
    assert publishes[-2]["detail"]["release"] == release["id"]


def test_an_unexpected_error_is_logged_by_its_type_alone(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    failing = APIRouter()

    @failing.get("/v1/failing")
    def fails(who: Annotated[Any, allow("admin")]) -> str:
        raise RuntimeError(f"cannot read {world.person_ref}")

    app = create_app(world.settings, routers=[*ROUTERS, failing])
    with caplog.at_level(logging.DEBUG), TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/v1/failing", headers=world.headers("admin"))
    assert answer.status_code == 500 and world.person_ref not in answer.text
    text = "\n".join(
        f"{r.getMessage()} {r.exc_text or ''}"
        for r in caplog.records
        if not r.name.startswith("httpx")
    )
    assert "GET /v1/failing failed: RuntimeError" in text
    assert world.person_ref not in text
    assert [e["status"] for e in _entries(world) if e["route"] == "GET /v1/failing"][-1] == 500
