"""Rotating the main key (``cmm key rotate``): everything sealed with it sealed again with a new
key, in one transaction, so that at every moment exactly one key opens the whole store.

What is sealed with the main key, and what rotation does with it:

- every stored event that is not a person's (hotline calls, outreach, the ledgers: budget,
  partner releases, users and audit, erasures), and any person's event stored before
  person keys: opened with the old key and sealed with the new one;
- the persons' data keys (``infra.person_keys``): unwrapped with the old key and wrapped
  with the new one. The persons' events themselves are sealed with their data keys, which
  do not change, so they are not rewritten: a rotation costs a fraction of the store;
- the fingerprint the store keeps of its key: replaced, so a writer still running with
  the old key is refused before it writes anything (``infra.person_keys.check_writer``);
- the read model, sealed with a key derived from the main key: emptied in the same
  transaction, with its position, and built again from the store with the new key.

The transaction holds the store's write lock (and the read model's update lock), so no
event is written meanwhile; an interrupted rotation leaves the store as it was, under the
old key. Nothing is deleted: every event the store held is there after, under the new key.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from infra import sealing
from infra.composition import open_store, open_view, rekey_store, updating, use_key
from infra.settings import Settings


@dataclass(frozen=True)
class Rotated:
    events: int  # stored events sealed again with the new key
    person_keys: int  # person keys wrapped again
    rebuilt: int  # events read to build the read model again


def rotate(
    settings: Settings, new_key_file: Path, progress: Callable[[int, int], None] | None = None
) -> Rotated:
    """Re-key the store from the configured key to the key in ``new_key_file`` (see the
    module docstring); from then on this process uses the new key."""
    use_key(settings)  # the old key must open what is stored
    old = sealing.active_key()
    new_key = sealing.key_from_env({"CMM_KEY_FILE": str(new_key_file)})
    if new_key == old:
        raise sealing.KeyError_("the new key is the key the store is sealed with already")
    before, after = sealing.Sealer(old), sealing.Sealer(new_key)
    with updating(settings):
        events, keys = rekey_store(settings, before, after)
        os.environ.pop("CMM_KEY", None)
        os.environ["CMM_KEY_FILE"] = str(new_key_file)
        sealing.install(new_key)
        store, view = open_store(settings), open_view(settings)
        try:
            rebuilt, _ = view.rebuild(progress)
        finally:
            view.close()
            store.close()
    return Rotated(events, keys, rebuilt)
