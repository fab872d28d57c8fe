"""``python -m coursekit <comando>``: the same commands as the console script ``aula10``."""

import sys

from coursekit.cli import main

if __name__ == "__main__":
    sys.exit(main())
