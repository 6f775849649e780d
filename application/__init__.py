"""The use cases of CMM Ledger: what the CLI and the HTTP API both call, so that no entry
point holds logic.

Each module is one use case (or a few close ones) taking the adapters it needs as
parameters (:class:`application.ports.Adapters`, built from the settings by the composition
root) and returning plain results: nothing here prints, parses a command line, or knows
SQLite from PostgreSQL. Progress is reported through a callback.

- :mod:`application.ingest`: store a file of events.
- :mod:`application.report`: the exact annual report of a year, as of a cut-off.
- :mod:`application.cases`: the current state of cases, for case workers.
- :mod:`application.project`: bring the read model up to date, once or following.
- :mod:`application.publish_dp`: the differentially private open-data release.
- :mod:`application.publish_partners`: the exact release with cell suppression.
- :mod:`application.budget`: the year's privacy budget, allocated and spent.
"""
