"""The commands that move events (ingest, consume, produce) start without the analysis stack.

pandas alone takes most of a second to import, which is a few percent of a large ingest and
most of a small one; the report's modules import it, so the CLI must import them only for
the commands that print a report. Run in a fresh interpreter: this test process has long
imported everything.
"""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("pandas", "numpy", "opendp", "polars", "scipy")


def test_the_cli_and_the_ingest_path_do_not_import_the_analysis_stack() -> None:
    code = (
        "import sys, typer, infra.cli, infra.files.ingest, infra.composition, infra.wiring\n"
        "from infra.cli import build_app\n"
        "typer.main.get_command(build_app())\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "", f"imported at start-up: {result.stdout.strip()}"
