"""``python -m tinyorm``: the same as the ``tinyorm`` command."""

import sys

from .cli import main

sys.exit(main())
