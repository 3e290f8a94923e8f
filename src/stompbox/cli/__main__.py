"""``python -m stompbox.cli``: the same as the ``stompbox`` console script."""

import sys

from stompbox.cli import main

sys.exit(main())
