"""``torchrun ... -m spotlight_widget.distributed find ...``: see ``launcher``."""

import sys

from .launcher import main

sys.exit(main())
