"""Defaults the command line shows in its options, apart from the modules that use them.

`mlgate check` must start fast, so the command line loads a command's module only when that
command runs; the values its options show before then live here, once.
"""

from __future__ import annotations

from mlgate import __version__

LOCAL_ENVIRONMENT = "local"  # the environment deploy, serve and monitor use when none is named
DEPLOY_WAIT_SECONDS = 60.0  # how long a deploy waits for another one to the same environment
SERVE_HOST = "127.0.0.1"
SERVE_PORT = 8080
MAX_BODY_MB = 10.0  # larger request bodies get HTTP 413
MAX_BODY_MB_LIMIT = 10_240.0  # 10 GiB: a larger limit is no limit
MAX_BATCH_ROWS = 2_000  # rows of waiting requests predicted in one call
BUMPS = ("auto", "major", "minor", "patch")
WORKFLOW_PYTHON = "3.11"
WORKFLOW_INSTALL = f'python -m pip install "mlgate=={__version__}"'
MAIN_BRANCH = "main"
# The git hooks mlgate installs: a stale pipeline stops a commit, a regression a push; after a
# checkout, merge (pull) or rebase, `dvc checkout` brings the data in line.
HOOKS = ("pre-commit", "pre-push", "post-checkout", "post-merge", "post-rewrite")
