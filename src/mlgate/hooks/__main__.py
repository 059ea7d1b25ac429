"""``python -m mlgate.hooks HOOK``: what the installed hook scripts run."""

import sys

from mlgate.hooks.runner import main

sys.exit(main())
