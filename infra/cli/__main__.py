"""``python -m infra.cli``: the same as the ``cmm`` script."""

import sys

from infra.cli import main

sys.exit(main())
