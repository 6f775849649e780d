"""The pages' sign-in: its forms are checked against forged posts (CSRF), its cookie is
what the browser needs and nothing more, and the API never takes it for a token."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from infra.http.app import create_app
from infra.settings import Settings
from tests.integration.test_http_access import World

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root: Path = tmp_path_factory.mktemp("pages")
    yield World(root, Settings(data_dir=root / "data"))


def _check(text: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', text)
    assert found is not None, name
    return found.group(1)


def test_sign_in_and_out_refuse_forged_forms(world: World) -> None:
    with TestClient(create_app(world.settings)) as client:
        token = world.tokens["case_worker"]
        # No CSRF value of this browser's own: refused, no session made.
        forged = client.post("/login", content=f"check=x&token={token}", headers=FORM)
        assert forged.status_code == 403 and "cmm_session" not in client.cookies
        form = client.get("/login")
        assert "default-src 'none'" in form.headers["content-security-policy"]
        check = _check(form.text, "check")
        wrong = client.post("/login", content=f"check={check}&token=guess", headers=FORM)
        assert wrong.status_code == 401 and "cmm_session" not in client.cookies
        check = _check(wrong.text, "check")
        signed = client.post(
            "/login",
            content=f"check={check}&next=//elsewhere.example&token={token}",
            headers=FORM,
            follow_redirects=False,
        )
        assert signed.status_code == 303 and signed.headers["location"] == "/"
        cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        assert token not in cookie  # the cookie holds a session id, never the token
        assert client.get("/cases").status_code == 200
        # The API takes a bearer header only: the session cookie is not a token there.
        assert client.get("/v1/cases").status_code == 401
        page = client.get("/cases")
        # Signing out needs the session's own CSRF value.
        kept = client.post("/logout", content="csrf=forged", headers=FORM)
        assert kept.status_code == 403 and client.get("/cases").status_code == 200
        csrf = _check(page.text, "csrf")
        client.post("/logout", content=f"csrf={csrf}", headers=FORM)
        assert client.get("/cases").status_code == 401


def test_page_reads_are_audited_as_the_apis_are(world: World) -> None:
    from datetime import UTC, datetime

    from application.access import audit
    from infra.composition import open_access_ledger

    def entries() -> list[dict[str, object]]:
        today = datetime.now(UTC).date()
        return audit(open_access_ledger(world.settings), today, today)

    with TestClient(create_app(world.settings)) as client:
        check = _check(client.get("/login").text, "check")
        token = world.tokens["case_worker"]
        client.post("/login", content=f"check={check}&token={token}", headers=FORM)
        before = len(entries())
        page = client.get(f"/cases/{world.person_ref}")
        assert page.status_code == 200 and world.person_ref in page.text
        listed = client.get("/cases", params={"flagged": "true"})
        assert listed.status_code == 200
        client.cookies.clear()
        assert client.get(f"/cases/{world.person_ref}").status_code == 401
    made = entries()[before:]
    assert [(e["who"], e["status"], e["route"]) for e in made] == [
        ("user-case_worker", 200, "GET /cases/{person_ref}"),
        ("user-case_worker", 200, "GET /cases"),
        (None, 401, "GET /cases/{person_ref}"),
    ]
    assert made[0]["person_refs"] == [world.person_ref]
    shown = set(re.findall(r'href="/cases/([^"?]+)', listed.text))
    assert made[1]["person_refs"] == sorted(shown)


def test_a_page_without_a_rule_is_not_served(world: World) -> None:
    from fastapi import APIRouter

    from infra.http.routes import ROUTERS
    from infra.http.rules import MissingRule

    extra = APIRouter(include_in_schema=False)

    @extra.get("/everyone")
    def everyone() -> str:
        return "all of it"

    with pytest.raises(MissingRule, match=r"/everyone declares no rule"):
        create_app(world.settings, routers=[*ROUTERS, extra])
