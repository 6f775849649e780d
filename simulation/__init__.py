"""Synthetic event streams for tests, benchmarks and demonstrations: seeded, reproducible,
and calibrated so that the exact report of a simulated year reproduces the figures the
centre published. It depends on the domain (and, for ``simulated_inputs``, on the
projections) only: no store, no server."""
