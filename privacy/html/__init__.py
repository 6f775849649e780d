"""A self-contained HTML report of a release, in the spirit of the centre's annual report.

One file that opens offline: inline CSS, bar charts drawn as inline SVG here in Python, no
script, no font or image from elsewhere. A Content-Security-Policy of ``default-src 'none'``
makes the browser refuse any outside request, so the file cannot leak a reader's visit, and a
test in headless Chromium checks that it renders.

English first, Danish labels beside them. Each chart is a ``<figure>`` whose ``<svg>`` has
``role="img"``, a ``<title>`` and a ``<desc>`` listing every value, and a ``<figcaption>``; the
numbers are also in a table under each chart for screen readers and copying.

Rendering is post-processing of a :class:`~privacy.model.Release`: it shows the released
cells and their margins of error and adds nothing that depends on the data.

Where things are (import them from here):

- ``_document``: :func:`render_html`, the document's head and the order of its parts.
- ``_sections``: the sections in words (how to read, who is protected, method, footer).
- ``_headline``: the year in numbers.
- ``_charts``: :data:`CHARTS` and the SVG bar charts with their captions.
- ``_cells``: reading a released table's rows; ``_format``: how numbers and names read.
"""

from __future__ import annotations

from privacy.html._charts import CHARTS
from privacy.html._document import render_html

__all__ = ["CHARTS", "render_html"]
