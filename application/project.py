"""Bring the read model up to date with the store: once, or following new events."""

from __future__ import annotations

import time
from collections.abc import Callable

from application.ports import Adapters, CatchUpResult, ProgressCallback


class InterruptedFirstCatchUp(KeyboardInterrupt):
    """Interrupted before the first catch-up ended: what it committed stays, and the next
    run goes on from there."""


def project(
    adapters: Adapters,
    *,
    follow: bool = False,
    interval: float = 1.0,
    progress: ProgressCallback | None = None,
    wait: Callable[[float], None] = time.sleep,
) -> CatchUpResult:
    """Apply to the read model what it has not seen of the store, in transactions that carry
    their tracking position, and return how much and up to where. ``follow``: poll the store
    every ``interval`` seconds when nothing was new, until interrupted (Ctrl-C), then return
    the last result; interrupted in the first catch-up, raise
    :class:`InterruptedFirstCatchUp`."""
    result: CatchUpResult | None = None
    with adapters.open_store() as store:
        with adapters.updating():
            view = adapters.open_view()
        try:
            while True:
                with adapters.updating():
                    result = adapters.catch_up(store, view, progress=progress)
                if not follow:
                    break
                if result.processed == 0:
                    wait(interval)
        except KeyboardInterrupt:
            if result is None:
                raise InterruptedFirstCatchUp from None
        finally:
            view.close()
    assert result is not None
    return result
