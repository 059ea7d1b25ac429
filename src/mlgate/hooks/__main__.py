"""``python -m mlgate.hooks HOOK``: what the installed hook scripts run (the entry point is
``mlgate.commands.hook``; this path is the one hook scripts already installed call)."""

import sys

from mlgate.commands.hook import main

sys.exit(main())
