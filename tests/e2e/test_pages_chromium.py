"""The web pages in a real browser: the system's Chromium (never a downloaded one), driven
by Playwright against a real ``cmm serve`` on a store made with ``cmm simulate`` and
``cmm ingest``, users made with ``cmm users add``. Each test acts as a user would: signs in
through the form, clicks, reads what is shown. No console message and no
Content-Security-Policy refusal may appear.
"""

from __future__ import annotations

import csv
import io
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.settings import Settings
from tests.integration.conftest import CmmProcess, cmm_env, run_cmm, wait_until

pytestmark = pytest.mark.integration

CHROMIUM = Path(os.environ.get("CMM_CHROMIUM", "/usr/bin/chromium"))
YEAR, AS_OF = 2012, "2013-01-31"


class Server:
    def __init__(self, root: Path) -> None:
        self.settings = Settings(data_dir=root / "data")
        self.env = cmm_env(self.settings)
        events = root / "events.jsonl"
        made = run_cmm(["simulate", "--seed", "7", "--out", str(events)], self.env)
        assert made.returncode == 0, made.stderr
        ingested = run_cmm(["ingest", str(events)], self.env)
        assert ingested.returncode == 0, ingested.stderr
        self.events = [json.loads(line) for line in events.read_text("utf8").splitlines()]
        self.tokens = {}
        for role in ("case_worker", "analyst"):
            added = run_cmm(["users", "add", f"web-{role}", "--role", role], self.env)
            assert added.returncode == 0, added.stderr
            self.tokens[role] = added.stdout.strip().splitlines()[-1]
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.process = CmmProcess(
            ["serve", "--host", "127.0.0.1", "--port", str(self.port)],
            self.env,
            root / "serve.log",
        )

        def listening() -> bool:
            assert self.process.proc.poll() is None, self.process.output()
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", self.port)) == 0

        wait_until(listening, 120, "cmm serve listening")
        self.base = f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("pages"))
    try:
        yield running
    finally:
        running.process.kill()


@pytest.fixture
def page(server: Server) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run infra/servers/test-deps.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        context = browser.new_context(accept_downloads=True)
        tab = context.new_page()
        tab.set_default_timeout(120_000)  # a loaded machine: a wait, not a synchronisation
        messages: list[str] = []
        tab.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
        tab.on("pageerror", lambda e: messages.append(f"error: {e}"))
        yield tab
        browser.close()
    # A sign-in page answers 401, a refused one 403, and the browser asks for a favicon
    # (404): a resource's status is not an error of the page. Anything else (a script
    # error, a refusal by the
    # Content-Security-Policy) is.
    unexpected = [
        m
        for m in messages
        if not (
            "Failed to load resource" in m
            and any(f"status of {status}" in m for status in (401, 403, 404))
        )
    ]
    assert unexpected == [], unexpected


def sign_in(page: Any, server: Server, role: str, path: str) -> None:
    page.goto(server.base + path)
    assert page.locator("h1").inner_text() == "Sign in"
    # The style sheet is applied (served by the app, allowed by the policy).
    colour = page.eval_on_selector("header", "e => getComputedStyle(e).backgroundColor")
    assert colour == "rgb(47, 111, 143)"
    page.fill("#token", server.tokens[role])
    page.click("button[type=submit]")


def test_the_case_worker_filters_opens_a_case_and_signs_out(page: Any, server: Server) -> None:
    from application.case_detail import case_detail, needing_attention
    from infra.wiring import adapters

    sign_in(page, server, "case_worker", "/cases")
    assert page.url.endswith("/cases")
    every = int(page.locator(".count").inner_text().split()[0])
    page.check("input[name=flagged]")
    page.click(".filters button[type=submit]")
    flagged = {r["person_ref"] for r in needing_attention(adapters(server.settings), flagged=True)}
    shown = set(page.locator("table.cases tbody tr td:first-child a").all_inner_texts())
    assert shown == flagged and 0 < len(flagged) < every
    person = sorted(flagged)[0]
    page.click(f"text={person}")
    assert page.url.endswith(f"/cases/{person}")
    mine = [e for e in server.events if e.get("person_ref") == person]
    found = case_detail(adapters(server.settings), person)
    assert found is not None and len(found["timeline"]) == len(mine)
    items = page.locator("ol.timeline li.event")
    assert items.count() == len(mine)
    shown_ids = set(page.locator(".event-id").all_inner_texts())
    assert shown_ids == {e["event_id"] for e in mine}
    text = page.locator("main").inner_text()
    assert "Assessment decided" in text or "Contact registered" in text
    session = next(c for c in page.context.cookies() if c["name"] == "cmm_session")
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    page.click("header button[type=submit]")  # Sign out
    assert page.url.endswith("/login")
    import httpx

    # The server ended the session: its id, replayed, signs nobody in.
    replayed = httpx.get(
        f"{server.base}/cases", cookies={"cmm_session": session["value"]}, timeout=120
    )
    assert replayed.status_code == 401 and "Sign in" in replayed.text
    page.goto(server.base + "/cases")
    assert page.locator("h1").inner_text() == "Sign in"  # the session is gone


def test_the_analyst_reads_the_report_and_downloads_its_csv(page: Any, server: Server) -> None:
    import httpx

    sign_in(page, server, "analyst", "/reports")
    page.select_option("#year", str(YEAR))
    page.fill("#as_of", AS_OF)
    page.click(".filters button[type=submit]")
    assert page.url.endswith(f"/reports/{YEAR}?as_of={AS_OF}")
    api = httpx.get(
        f"{server.base}/v1/reports/{YEAR}",
        params={"as_of": AS_OF},
        headers={"Authorization": f"Bearer {server.tokens['analyst']}"},
        timeout=120,
    ).json()
    by_gender = page.locator("table[data-table=by_gender] tbody tr")
    shown = {r.locator("td").nth(0).inner_text(): r.locator("td").nth(1).inner_text()
             for r in by_gender.all()}  # fmt: skip
    expected = {
        api["labels"]["gender"].get(r["gender"], {"en": r["gender"]})["en"]: str(r["count"])
        for r in api["tables"]["by_gender"]
    }
    assert shown == expected and "Female" in shown
    with page.expect_download() as download:
        page.click("#by_gender a.csv")
    path = download.value.path()
    text = Path(path).read_text("utf8")
    same = httpx.get(
        f"{server.base}/v1/reports/{YEAR}",
        params={"as_of": AS_OF, "table": "by_gender"},
        headers={"Authorization": f"Bearer {server.tokens['analyst']}", "Accept": "text/csv"},
        timeout=120,
    )
    assert text == same.text  # the API's CSV, byte for byte
    from application.report import annual_report
    from infra.wiring import adapters

    exact = annual_report(adapters(server.settings), YEAR, AS_OF)["by_gender"]
    assert text == exact.to_csv(index=False, na_rep="")  # computed here, not by the server
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["gender"], r["count"]) for r in rows] == [
        (r["gender"], str(r["count"])) for r in api["tables"]["by_gender"]
    ]
    page.goto(server.base + "/cases")
    assert page.locator("h1").inner_text().startswith("Not allowed")  # 403 page


def test_the_public_sees_the_releases_without_signing_in(page: Any, server: Server) -> None:
    answer = page.goto(server.base + "/")
    assert answer.status == 200
    assert page.locator("h1").inner_text() == "Published releases"
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    page.goto(server.base + "/reports")
    assert page.locator("h1").inner_text() == "Sign in"
