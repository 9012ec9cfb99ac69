"""``python -m xe_dr`` runs the xe-dr command line."""

import sys

from xe_dr.cli import main

if __name__ == "__main__":
    sys.exit(main())
