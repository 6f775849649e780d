"""Benchmarks. Each prints one JSON object per line: name, value, unit, and baseline and
ratio where there is a baseline to compare with. ``python -m bench`` runs them all."""
