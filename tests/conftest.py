"""What every test shares: the encryption key of the stores the tests make.

``cmm`` refuses to run without a key (``CMM_KEY_FILE`` or ``CMM_KEY``), so the tests, and
the ``cmm`` processes they start (which inherit this environment), use this one: a key for
synthetic data only, never for a real store. A test that needs no key or another key says
so in the environment it gives the command.
"""

from __future__ import annotations

import os

TEST_KEY = "BgkCoDtcBvl2DqRw+dCCeCArkz6ZvuSv0vTJc/N/k8s="

if not os.environ.get("CMM_KEY_FILE"):
    os.environ.setdefault("CMM_KEY", TEST_KEY)
