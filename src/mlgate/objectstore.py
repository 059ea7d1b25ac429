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
from typing import Any

from mlgate.errors import MlgateError


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
        raise MlgateError(f"{what}: {type(exc).__name__}: {exc}") from None


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
        message = str(error.get("Message", "")).strip()
        raise MlgateError(
            f"{what}: {operation} answered {code or status}{': ' + message if message else ''}"
        ) from None
    except botocore.exceptions.NoCredentialsError:
        raise MlgateError(
            f"{what}: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "(or AWS_PROFILE)"
        ) from None
    except botocore.exceptions.BotoCoreError as exc:
        raise MlgateError(f"{what}: {exc}") from None
