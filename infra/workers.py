"""Worker processes that end with the command that started them.

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
import os
import signal
import threading
import time

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
