"""``python -m mlgate``: the command line."""

import sys

from mlgate.commands.main import main

sys.exit(main())
