"""The HTML report in a real browser: headless Chromium loads it offline without a console
message, the DOM has every chart as an SVG with bars, and the screenshot is not blank.

Needs Debian's ``chromium`` and ``pillow`` (both installed by the test set-up); without them
the tests fail rather than skip, because a report nobody checked in a browser is not tested.
"""

from __future__ import annotations

import os
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from privacy.html import CHARTS, render_html
from privacy.model import Release
from tests.unit.test_package import dp_release, sdc_release

pytestmark = pytest.mark.integration

CHROMIUM = Path(os.environ.get("CMM_CHROMIUM", "/usr/bin/chromium"))
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Any host name fails to resolve: a report that needed the network would show it.
    "--host-resolver-rules=MAP * ~NOTFOUND",
    # Console messages (script errors, Content-Security-Policy refusals) go to stderr.
    "--enable-logging=stderr",
    "--v=0",
]


def chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: run the test set-up "
            "(apt-get install -y chromium) or set CMM_CHROMIUM"
        )
    result = subprocess.run(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def write_report(release: Release, directory: Path) -> Path:
    path = directory / "report.html"
    path.write_text(render_html(release), encoding="utf-8")
    return path


class Figures(HTMLParser):
    """Per <figure>: its svg elements, bars (rect.bar), suppressed-cell outlines
    (rect.hidden-cell), whiskers (g.moe) and caption text."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: list[dict[str, int | str]] = []
        self._caption = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "figure":
            self.figures.append({"svg": 0, "bars": 0, "hidden": 0, "moe": 0, "caption": ""})
        elif self.figures and tag == "svg":
            self.figures[-1]["svg"] = int(self.figures[-1]["svg"]) + 1
        elif self.figures and tag == "rect" and "bar" in classes:
            self.figures[-1]["bars"] = int(self.figures[-1]["bars"]) + 1
        elif self.figures and tag == "rect" and "hidden-cell" in classes:
            self.figures[-1]["hidden"] = int(self.figures[-1]["hidden"]) + 1
        elif self.figures and tag == "g" and "moe" in classes:
            self.figures[-1]["moe"] = int(self.figures[-1]["moe"]) + 1
        elif tag == "figcaption":
            self._caption = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "figcaption":
            self._caption = False

    def handle_data(self, data: str) -> None:
        if self._caption and self.figures:
            self.figures[-1]["caption"] = str(self.figures[-1]["caption"]) + data


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def test_report_asks_for_nothing_from_outside() -> None:
    html = render_html(sdc_release())
    links = re.findall(r"""(?:src|href|xlink:href)\s*=\s*["']?([^"'\s>]+)""", html, re.I)
    assert not [u for u in links if re.match(r"(?i)(https?:)?//", u)], links
    assert "<script" not in html.lower() and "<link" not in html.lower()
    assert "url(" not in html and "@import" not in html
    assert "default-src 'none'" in html  # the browser itself refuses any outside request


def test_chromium_loads_the_report_and_shows_every_chart(tmp_path: Path) -> None:
    report = write_report(sdc_release(), tmp_path)
    result = chromium(["--dump-dom", report.as_uri()], tmp_path / "profile")

    assert console_messages(result.stderr) == []
    parser = Figures()
    parser.feed(result.stdout)
    assert len(parser.figures) == len(CHARTS)
    for figure in parser.figures:
        assert figure["svg"] == 1, figure
        # Every chart draws something: a bar per published cell, an outline per hidden one
        # (a partner release may hide every non-zero cell of a small table, as by_gender).
        assert int(figure["bars"]) + int(figure["hidden"]) >= 1, figure
        if int(figure["hidden"]):
            assert "suppressed" in str(figure["caption"]), figure
        assert str(figure["caption"]).startswith("Figure "), figure
    assert sum(int(f["bars"]) for f in parser.figures) >= len(CHARTS) // 2
    captions = " ".join(str(f["caption"]) for f in parser.figures)
    assert "Victims by form of exploitation" in captions
    assert "suppressed" in captions  # the marker is explained where it appears
    assert "2013-01-31" in result.stdout  # the cut-off date


def test_chromium_draws_margins_of_error_for_a_dp_release(tmp_path: Path) -> None:
    report = write_report(dp_release(), tmp_path)
    result = chromium(["--dump-dom", report.as_uri()], tmp_path / "profile")

    assert console_messages(result.stderr) == []
    parser = Figures()
    parser.feed(result.stdout)
    assert len(parser.figures) == 1  # by_gender; victims_by_year is a headline number
    assert parser.figures[0]["moe"] == 2
    assert "&lt;5" in result.stdout or "<5" in result.stdout


def test_chromium_screenshot_is_not_blank(tmp_path: Path) -> None:
    try:
        from PIL import Image
    except ImportError:
        pytest.fail("pillow is not installed: run the test set-up (pip install pillow)")
    report = write_report(sdc_release(), tmp_path)
    shot = tmp_path / "report.png"
    chromium(
        [f"--screenshot={shot}", "--window-size=1280,2000", report.as_uri()],
        tmp_path / "profile",
    )

    with Image.open(shot) as image:
        assert image.size == (1280, 2000)
        rgb = image.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 20) or []
        assert len(colours) > 50  # text, bars, cards: far from a flat page
        white = sum(n for n, c in colours if c == (255, 255, 255))
        assert white < 0.95 * 1280 * 2000
        # The bars' colour is on screen, not only in the markup.
        bar = (0x2F, 0x6F, 0x8F)
        assert sum(n for n, c in colours if c == bar) > 1000
