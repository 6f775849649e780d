"""Benchmarks. Each prints one JSON object per line: name, value, unit, and baseline and
ratio where there is a baseline to compare with. ``python -m bench`` runs them all."""

import os

BENCH_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
"""The benchmarks' stores hold synthetic data only, encrypted with this key unless one is
configured (``cmm`` refuses to run without a key)."""

if not (os.environ.get("CMM_KEY_FILE") or os.environ.get("CMM_KEY")):
    os.environ["CMM_KEY"] = BENCH_KEY
