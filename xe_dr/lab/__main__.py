"""``python -m xe_dr.lab``: see xe_dr/lab/cli.py."""

import sys

from .cli import main

sys.exit(main())
