"""S3-compatible object storage, for deploy targets and DVC remotes: one client, one place
where its errors become mlgate's.

The endpoint, credentials and region come from the environment as for any AWS tool
(``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``,
``AWS_REGION``), or from a DVC remote's own settings; mlgate never prints them. botocore (the
core of AWS's SDK, which DVC's S3 plugin installs too) is imported only when object storage is
used (the ``mlgate[s3]`` extra).
"""

from __future__ import annotations

import os
import re
from typing import Any

from mlgate.errors import MlgateError

# A URL's user and password ("https://key:secret@host"): what AWS_ENDPOINT_URL or a remote's
# endpointurl may carry, and botocore repeats in its errors.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s\"'@]*@")
_SIGNED = re.compile(
    r"(?i)((?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|Signature|AWSAccessKeyId)=)[^&\s\"']+"
)


def redact(text: str, *secrets: str | None) -> str:
    """``text`` without credentials: a URL's user and password, presigned query parameters,
    and each of ``secrets`` (and the AWS variables' values) replaced by ``***``."""
    text = _SIGNED.sub(r"\1***", _USERINFO.sub(r"\1***@", text))
    known = [*secrets, *(os.environ.get(name) for name in SECRET_VARIABLES)]
    for secret in sorted({s for s in known if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


SECRET_VARIABLES = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID")


class Missing(Exception):
    """No such object."""


class Conflict(Exception):
    """A conditional request's condition failed (412, or 409 for a concurrent one)."""


def client(
    *,
    what: str,
    endpoint: str | None = None,
    profile: str | None = None,
    region: str | None = None,
    keys: tuple[str, str] | None = None,
) -> Any:
    """An S3 client; ``what`` names the target or remote in errors."""
    try:
        import botocore.config
        import botocore.session
    except ModuleNotFoundError:
        raise MlgateError(f"{what} needs botocore: pip install 'mlgate[s3]'") from None
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    config = botocore.config.Config(
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=10,
        read_timeout=60,
        max_pool_connections=16,
    )
    credentials = {}
    if keys is not None:
        credentials = {"aws_access_key_id": keys[0], "aws_secret_access_key": keys[1]}
    try:
        session = botocore.session.Session(profile=profile)
        return session.create_client(
            "s3",
            region_name=region or "us-east-1",
            endpoint_url=endpoint or None,
            config=config,
            **credentials,
        )
    except Exception as exc:  # a missing profile, a malformed endpoint: botocore's own types
        said = redact(f"{type(exc).__name__}: {exc}", *(keys or ()))
        raise MlgateError(f"{redact(what)}: {said}") from None


def call(s3: Any, what: str, operation: str, **arguments: Any) -> Any:
    """``s3.<operation>(**arguments)``; Missing for no such key, Conflict for a failed
    condition, MlgateError (one line, no secrets) for anything else."""
    import botocore.exceptions

    try:
        return getattr(s3, operation)(**arguments)
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = str(error.get("Code", ""))
        if code in ("NoSuchKey", "404", "NotFound"):
            raise Missing() from None
        if status in (409, 412) or code in ("PreconditionFailed", "ConditionalRequestConflict"):
            raise Conflict() from None
        message = redact(str(error.get("Message", "")).strip())
        raise MlgateError(
            f"{redact(what)}: {operation} answered {code or status}{': ' + message if message else ''}"
        ) from None
    except botocore.exceptions.NoCredentialsError:
        raise MlgateError(
            f"{what}: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "(or AWS_PROFILE)"
        ) from None
    except botocore.exceptions.BotoCoreError as exc:
        raise MlgateError(f"{redact(what)}: {redact(str(exc))}") from None
