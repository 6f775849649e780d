"""The report as one document: its head (the Content-Security-Policy and the inline style), then
the sections and charts in the order of the centre's annual report.
"""

from __future__ import annotations

from html import escape

from privacy.html._charts import CHARTS, _figure
from privacy.html._headline import _headline
from privacy.html._sections import _about, _footer, _meta_line, _method, _protection
from privacy.model import Release

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_CSS = """
:root { --ink: #1f2430; --muted: #5b6170; --accent: #6b2c6e; --bar: #2f6f8f;
        --line: #d9dce3; --bg: #ffffff; --card: #f4f1f6; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
       font: 16px/1.5 "Helvetica Neue", Arial, "Liberation Sans", sans-serif; }
main { max-width: 980px; margin: 0 auto; padding: 32px 24px 64px; }
header { border-bottom: 4px solid var(--accent); padding-bottom: 16px; margin-bottom: 24px; }
h1 { font-size: 30px; line-height: 1.2; margin: 0 0 4px; color: var(--accent); }
h2 { font-size: 22px; margin: 40px 0 8px; color: var(--accent); }
.da { color: var(--muted); font-style: italic; }
.meta { color: var(--muted); font-size: 14px; margin: 8px 0 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr));
         gap: 12px; margin: 16px 0; }
.card { background: var(--card); border-radius: 8px; padding: 14px 16px; }
.card .n { font-size: 34px; font-weight: 700; color: var(--accent); line-height: 1.1; }
.card .l { font-size: 14px; }
.card .l span { display: block; color: var(--muted); font-style: italic; }
figure { margin: 28px 0; padding: 16px; border: 1px solid var(--line); border-radius: 8px; }
figure svg { width: 100%; height: auto; display: block; }
figcaption { font-size: 14px; color: var(--muted); margin-top: 8px; }
figcaption strong { color: var(--ink); }
details { margin-top: 8px; font-size: 14px; }
table { border-collapse: collapse; margin-top: 6px; font-size: 14px; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 10px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.note { background: #fbf7e8; border-left: 4px solid #c9a227; padding: 10px 14px; }
dl.params { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; }
dl.params dt { font-weight: 600; }
dl.params dd { margin: 0; }
footer { margin-top: 48px; font-size: 13px; color: var(--muted);
         border-top: 1px solid var(--line); padding-top: 12px; }
"""


def render_html(release: Release) -> str:
    """The report as one HTML document (a string), needing nothing but a browser.

    Privacy: shows only the release's published cells, markers and parameters; the unit,
    privacy loss, mechanism and threshold are those of the release, explained in words.
    """
    meta = release.metadata
    year = meta.get("year", "")
    title = f"Human trafficking in Denmark: statistics for {year}"
    parts = [
        "<!doctype html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        "<main>",
        "<header>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="da" lang="da">Menneskehandel i Danmark: statistik for {escape(str(year))}</p>',
        f'<p class="meta">{_meta_line(meta)}</p>',
        "</header>",
        _headline(release),
        _about(meta),
        _protection(meta),
    ]
    parts.append('<h2 id="charts">Charts <span class="da" lang="da">Figurer</span></h2>')
    number = 0
    for name in CHARTS:
        table = release.tables.get(name)
        if table is None:
            continue
        number += 1
        parts.append(_figure(number, name, table, meta))
    parts += [_method(meta), _footer(meta), "</main>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"
