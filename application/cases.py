"""The current state of cases, for case workers: one row per person, with its flags."""

from __future__ import annotations

from typing import Any

from application.ports import Adapters, ProgressCallback


def cases(
    adapters: Adapters,
    person_ref: str | None = None,
    *,
    flagged: bool = False,
    progress: ProgressCallback | None = None,
) -> list[dict[str, Any]]:
    """The case read model's rows (one person, or all by ``person_ref``), brought up to date
    with the store first; ``flagged``: only cases whose history is inconsistent."""
    with adapters.open_store() as store, adapters.updating():
        view = adapters.open_view()
        try:
            adapters.catch_up(store, view, progress=progress)
        except BaseException:
            view.close()
            raise
    try:
        rows = adapters.case_rows(view, person_ref)
    finally:
        view.close()
    return [r for r in rows if r["flags"]] if flagged else rows
