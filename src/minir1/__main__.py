"""``python -m minir1`` is ``minir1``."""

import sys

from .cli import main

sys.exit(main())
