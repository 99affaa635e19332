"""Entry point for `python -m adapt_core`."""

import sys

from adapt_core.cli import main

if __name__ == "__main__":
    sys.exit(main())
