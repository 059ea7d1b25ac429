"""Artifact and environment names as GTO writes them in registry tags: letters, digits, '-',
'_' and '/', starting and ending with a letter or digit. Pure: the tag grammar
(mlgate.registry.tags) and the policy's checks (mlgate.policy) both read it here."""

from __future__ import annotations

import re

NAME = r"[a-zA-Z0-9](?:[a-zA-Z0-9\-/_]*[a-zA-Z0-9])?"
NAME_RE = re.compile(rf"^{NAME}$")
