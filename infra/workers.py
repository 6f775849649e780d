"""Worker processes: the one pool policy, and workers that end with the command that
started them.

The policy: worker processes are forked (they need this process's imports, never its open
connections, which they do not touch), :func:`default_workers` of them, one per core, and
none on a single core, where the work runs in the calling process; :func:`fork_pool` starts
them and, on leaving, cancels the tasks not started and waits for those under way.

``cmm ingest``, ``cmm consume`` and the read model's rebuild fork worker processes. A worker
must never outlive its parent: after a SIGKILL of the parent it would go on committing what
it holds, and after a SIGTERM the command would not be stopped at all. So every worker calls
:func:`end_with_parent` first:

- it ignores SIGINT and SIGTERM: a terminal or a service manager signals the whole process
  group, and the parent decides how to stop (finish or cancel the current batch);
- on Linux the kernel kills it when its parent dies (``prctl(PR_SET_PDEATHSIG, SIGKILL)``);
  elsewhere, and as a second line, a thread ends it once its parent is gone.

A worker killed this way dies inside or between transactions, never half way through one: a
batch is committed whole or not at all, and a rerun stores what is missing.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

PR_SET_PDEATHSIG = 1


def end_with_parent(parent: int) -> None:
    """Call first in a forked worker; ``parent`` is the pid of the process that forked it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the kernel was asked
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="end-with-parent", daemon=True).start()


def default_workers(most: int | None = None) -> int:
    """Worker processes by default: one per core (the calling process mostly waits on the
    database or on them), at ``most`` if given, and none on a single core, where one worker
    would only take turns with the calling process on the one core."""
    cores = os.cpu_count() or 1
    if cores < 2:
        return 0
    return cores if most is None else min(cores, most)


def _start_worker(
    parent: int, initializer: Callable[..., None] | None, args: tuple[Any, ...]
) -> None:
    end_with_parent(parent)
    if initializer is not None:
        initializer(*args)


def fork_executor(
    workers: int,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
) -> ProcessPoolExecutor:
    """An executor of ``workers`` forked processes, each of which calls
    :func:`end_with_parent` first, then ``initializer(*initargs)`` (which come through fork,
    unpickled). The caller shuts it down; :func:`fork_pool` does so for a pool with a
    scope."""
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_start_worker,
        initargs=(os.getpid(), initializer, initargs),
    )


@contextlib.contextmanager
def fork_pool(
    workers: int,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
) -> Iterator[ProcessPoolExecutor | None]:
    """A pool of ``workers`` forked processes (:func:`fork_executor`), or None for
    ``workers <= 0``: run the work in this process. On leaving, normally or by an exception
    (SIGTERM, Ctrl-C, a failed task), tasks not started are cancelled and those under way
    are waited for, so each commits whole or not at all."""
    if workers <= 0:
        yield None
        return
    pool = fork_executor(workers, initializer, initargs)
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
