"""Run every benchmark in turn: ``python -m bench``."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path


def main() -> int:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    failed = 0
    for name in names:
        importlib.import_module(f"bench.{name}")  # fail early on an import error
        failed += subprocess.run([sys.executable, "-m", f"bench.{name}"]).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
