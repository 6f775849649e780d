"""The pool of random bytes that nonces and person keys are drawn from never hands out the
same bytes twice: not to two threads, not to a forked child and its parent (AES-GCM with a
repeated nonce under one key leaks the plaintexts' XOR)."""

from __future__ import annotations

import os
import threading

from infra import sealing


def test_threads_never_draw_the_same_nonce() -> None:
    drawn: list[list[bytes]] = [[] for _ in range(8)]

    def draw(into: list[bytes]) -> None:
        for _ in range(5_000):
            into.append(sealing._random.take(12))

    threads = [threading.Thread(target=draw, args=(d,)) for d in drawn]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [n for d in drawn for n in d]
    assert len(set(every)) == len(every) == 40_000


def test_a_forked_child_never_draws_what_its_parent_draws() -> None:
    sealing._random.take(12)  # the pool holds bytes the child would inherit
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read)
        os.write(write, b"".join(sealing._random.take(12) for _ in range(200)))
        os._exit(0)
    os.close(write)
    child = b""
    while chunk := os.read(read, 65536):
        child += chunk
    os.close(read)
    os.waitpid(pid, 0)
    parent = [sealing._random.take(12) for _ in range(200)]
    theirs = {child[i : i + 12] for i in range(0, len(child), 12)}
    assert len(theirs) == 200 and not theirs & set(parent)
