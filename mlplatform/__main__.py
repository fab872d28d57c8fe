"""``python -m mlplatform <step>``: see ``mlplatform.cli``."""

import sys

from mlplatform.cli import main

sys.exit(main())
