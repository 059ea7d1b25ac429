"""Artifact and environment names as GTO writes them in registry tags: letters, digits, '-',
'_' and '/', starting and ending with a letter or digit. Pure: the tag grammar
(mlgate.registry.tags) and the policy's checks (mlgate.policy) both read it here."""

from __future__ import annotations

import re

NAME = r"[a-zA-Z0-9](?:[a-zA-Z0-9\-/_]*[a-zA-Z0-9])?"
NAME_RE = re.compile(rf"^{NAME}\Z")

_NUMBER = r"0|[1-9]\d*"
_IDENT = r"(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
SEMVER = (
    rf"v(?P<major>{_NUMBER})\.(?P<minor>{_NUMBER})\.(?P<patch>{_NUMBER})"
    rf"(?:-(?P<pre>{_IDENT}(?:\.{_IDENT})*))?(?:\+(?P<build>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
# What a deployment names as its version: a release's, or "md5-" and the first 12 hex digits
# of a model file's md5 that no release names. It becomes a folder's and a key's name.
DEPLOYED_VERSION_RE = re.compile(rf"^(?:{SEMVER}|md5-[0-9a-f]{{12}})\Z")
