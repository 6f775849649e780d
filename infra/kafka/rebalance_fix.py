"""A workaround for a kafka-python 3.0.12 race in which a consumer loses a rebalance: it is
monkeypatched into kafka-python's group coordinator, so it lives here, named, on its own.

What goes wrong. ``BaseCoordinator.join_group_async`` (``kafka/coordinator/base.py``) keeps
the JoinGroup/SyncGroup round trip in ``_join_task`` so that a short ``poll`` that times out
re-awaits it on the next ``poll`` instead of sending a second JoinGroup. But when the round
trip *completes* between two polls, the next ``poll`` finds ``_join_task.is_done`` and starts
a new join only if something still asks for one (``need_rejoin``). A rebalance started by a
metadata or subscription change asks only once, so nothing asks again: the finished task's
assignment is never applied and the member keeps an empty assignment for ever. Seen under
load here (a consumer that never got its partitions) and reproduced by
``tests/integration/test_kafka_consumer.py::test_a_rebalance_finishing_between_short_polls_is_not_lost``
(a member polling with ``timeout_ms=1``). We know of no upstream issue for it.

The fix: a finished join whose result was not consumed counts as "rejoin needed", and is
awaited (its assignment applied) rather than replaced.

How to drop it: on a kafka-python release where that test passes without
:func:`keep_finished_rebalances` (remove its call in ``infra.kafka.consumer`` and run the
test), delete this module and the call. It already does nothing on a kafka-python without
these internals.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


class _FinishedJoin:
    """A join/sync task that completed while no ``poll`` was waiting for it, presented as
    still pending so that the coordinator awaits it (and applies its assignment) instead of
    discarding it."""

    is_done = False

    def __init__(self, future: Any) -> None:
        self._future = future

    def add_callback(self, f: Any, *args: Any, **kwargs: Any) -> Any:
        return self._future.add_callback(f, *args, **kwargs)

    def add_errback(self, f: Any, *args: Any, **kwargs: Any) -> Any:
        return self._future.add_errback(f, *args, **kwargs)


def keep_finished_rebalances() -> None:
    """kafka-python 3.0.12 loses a rebalance when ``poll`` times out while the JoinGroup /
    SyncGroup round trip is in flight and the round trip then completes before the next
    ``poll``: the finished task is discarded, and when the rebalance was started by a
    metadata or subscription change nothing asks to rejoin again, so the member keeps an
    empty assignment for ever (seen here under load: a consumer that never gets its
    partitions). The fix: a finished, unconsumed join counts as "rejoin needed", and is
    awaited rather than replaced. Applied once; a kafka-python without these internals is
    left alone."""
    from kafka.coordinator.base import BaseCoordinator
    from kafka.coordinator.consumer import ConsumerCoordinator

    if getattr(BaseCoordinator, "_cmm_keeps_finished_rebalances", False):
        return
    original_join = getattr(BaseCoordinator, "join_group_async", None)
    original_need = getattr(ConsumerCoordinator, "need_rejoin", None)
    if original_join is None or original_need is None:
        return

    def unconsumed(self: Any) -> bool:
        task = getattr(self, "_join_task", None)
        if isinstance(task, _FinishedJoin):
            return True
        return bool(task is not None and task.is_done and getattr(self, "rejoining", False))

    def need_rejoin(self: Any) -> bool:
        return unconsumed(self) or bool(original_need(self))

    async def join_group_async(self: Any, timeout_ms: Any = None) -> Any:
        task = getattr(self, "_join_task", None)
        if task is not None and not isinstance(task, _FinishedJoin) and unconsumed(self):
            log.info("completing a rebalance that finished between two polls")
            self._join_task = _FinishedJoin(task)
        return await original_join(self, timeout_ms)

    ConsumerCoordinator.need_rejoin = need_rejoin  # type: ignore[method-assign]
    BaseCoordinator.join_group_async = join_group_async  # type: ignore[method-assign]
    BaseCoordinator._cmm_keeps_finished_rebalances = True  # type: ignore[attr-defined]
