"""One JSON call to a code host's REST API, made the same way for every forge.

Standard library only. Retries 5xx answers and rate limits with backoff. Never prints the token,
and never sends it to another origin: it rides in an unredirected header, which a redirect gets
back only when it stays on the scheme, host and port it was sent to.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlgate.errors import MlgateError
from mlgate.escape import one_line

if TYPE_CHECKING:
    import urllib.error
    import urllib.request

RETRIES = 4
TIMEOUT_SECONDS = 30
PAGE_SIZE = 100
MAX_PAGES = 100  # 10,000 comments, notes or pipelines: a long thread, bounded


class HttpError(MlgateError):
    """The host answered with an error status (``code``) that retrying does not cure."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class Forbidden(HttpError):
    """The host answered 403: the token may not do this (a fork's pull request gets a read-only
    token; a GitLab job token may not write notes)."""


@dataclass(frozen=True)
class Api:
    """Where a forge's REST API is and how to speak to it. ``secret`` is the header carrying the
    token (``("Authorization", "Bearer …")`` on GitHub, ``("PRIVATE-TOKEN", …)`` on GitLab)."""

    host: str  # the forge's name, as errors say it: "GitHub"
    url: str  # the API's base address
    secret: tuple[str, str] = field(repr=False)
    headers: Mapping[str, str] = field(default_factory=dict)
    sleep: Callable[[float], None] = time.sleep

    def call(self, method: str, path: str, payload: Any = None, *, url: str = "") -> Any:
        """``method`` on ``path`` (below the base address; or ``url`` when given) with
        ``payload`` as JSON; the answer's JSON ({} when empty). 403 raises Forbidden."""
        import urllib.error  # only when posting: the gate's start-up stays short
        import urllib.request

        data = None if payload is None else json.dumps(payload).encode()
        shown = (path or urllib.parse.urlsplit(url).path).split("?")[0]
        for attempt in range(RETRIES + 1):
            request = urllib.request.Request(
                url or self.url.rstrip("/") + path, data=data, method=method
            )
            request.add_unredirected_header(*self.secret)
            for name, value in self.headers.items():
                request.add_header(name, value)
            request.add_header("User-Agent", "mlgate")
            if data is not None:
                request.add_header("Content-Type", "application/json")
            try:
                with _opener().open(request, timeout=TIMEOUT_SECONDS) as response:
                    return self._json(method, shown, response.read())
            except urllib.error.HTTPError as exc:
                wait = retry_after(exc, attempt)
                if wait is None or attempt == RETRIES:
                    raise self._error(method, shown, exc) from None
                self.sleep(wait)
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                if attempt == RETRIES:
                    raise MlgateError(
                        f"cannot reach the {self.host} API at {self.url}: {exc}"
                    ) from None
                self.sleep(2.0**attempt)
        raise AssertionError("unreachable")

    def every_page(self, path: str, key: str | None = None) -> list[dict[str, Any]]:
        """Every object of a paginated list answer (a list, or ``{key: [...]}``), 100 a page,
        at most MAX_PAGES pages."""
        found: list[dict[str, Any]] = []
        join = "&" if "?" in path else "?"
        for page in range(1, MAX_PAGES + 1):
            answer = self.call("GET", f"{path}{join}per_page={PAGE_SIZE}&page={page}")
            if key is not None:
                answer = answer.get(key) if isinstance(answer, dict) else None
            items = answer if isinstance(answer, list) else []
            found += [item for item in items if isinstance(item, dict)]
            if len(items) < PAGE_SIZE:
                break
        return found

    def _json(self, method: str, path: str, body: bytes) -> Any:
        try:
            return json.loads(body) if body else {}
        except ValueError:  # not JSON: a proxy's page, or not this API at all
            raise MlgateError(
                f"{self.host} API {method} {path}: the answer is not JSON (is {self.url} "
                f"the {self.host} API?)"
            ) from None

    def _error(self, method: str, path: str, exc: urllib.error.HTTPError) -> HttpError:
        if exc.code == 403:
            return Forbidden(
                f"{self.host} API {method} {path} refused (HTTP 403): the token may not do this",
                exc.code,
            )
        if exc.code == 401:
            return HttpError(
                f"{self.host} API {method} {path} failed: HTTP 401 (the token is not valid, "
                "or has expired)",
                exc.code,
            )
        said = one_line(str(exc.reason))[:100]
        return HttpError(
            f"{self.host} API {method} {path} failed: HTTP {exc.code} {said}", exc.code
        )


def _opener() -> urllib.request.OpenerDirector:
    """urllib's opener, but a redirect to another origin (scheme, host, port) loses the token."""
    import urllib.request

    class SameOriginAuth(urllib.request.HTTPRedirectHandler):
        def redirect_request(
            self,
            req: urllib.request.Request,
            fp: Any,
            code: int,
            msg: str,
            headers: Any,
            newurl: str,
        ) -> urllib.request.Request | None:
            new = super().redirect_request(req, fp, code, msg, headers, newurl)
            if new is not None and origin(newurl) == origin(req.full_url):
                for name, value in req.unredirected_hdrs.items():
                    if name != "Host":
                        new.add_unredirected_header(name, value)
            return new

    return urllib.request.build_opener(SameOriginAuth)


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port or default


def retry_after(exc: urllib.error.HTTPError, attempt: int) -> float | None:
    """Seconds to wait before retrying, or None when retrying cannot help. Rate limits as
    GitHub says them (403 or 429 with ``x-ratelimit-*``) and as GitLab does (429 with
    ``Retry-After`` and ``RateLimit-Reset``)."""
    headers = exc.headers
    rate_limited = exc.code == 429 or (
        exc.code == 403 and headers.get("x-ratelimit-remaining") == "0"
    )
    if not rate_limited and exc.code < 500:
        return None
    if headers.get("retry-after", "").isdigit():
        return min(float(headers["retry-after"]), 60.0)
    reset = headers.get("x-ratelimit-reset") or headers.get("ratelimit-reset") or ""
    if rate_limited and reset.isdigit():
        return min(max(float(reset) - time.time(), 1.0), 60.0)
    return min(2.0**attempt, 30.0)
