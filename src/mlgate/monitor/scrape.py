"""What the servers counted per version: read from their ``/metrics`` (Prometheus' text
format), each URL given by the user, with no redirect followed and the answer bounded."""

from __future__ import annotations

import http.client
import urllib.parse
from collections.abc import Sequence

from mlgate.errors import MlgateError
from mlgate.monitor.canary_verdict import Served

MAX_BYTES = 16 * 2**20
TIMEOUT_SECONDS = 10.0
FAMILY = "mlgate_version_requests"  # declared by every mlgate server, before any request
REQUESTS = f"{FAMILY}_total"
LATENCY_BUCKET = "mlgate_version_request_duration_seconds_bucket"


def scrape(urls: Sequence[str]) -> dict[str, Served]:
    """Each version's counts summed over the servers at ``urls``."""
    requests: dict[str, int] = {}
    errors: dict[str, int] = {}
    buckets: dict[str, dict[float, float]] = {}
    for url in urls:
        families, samples = _samples(_fetch(url), url)
        if FAMILY not in families:
            raise MlgateError(
                f"--metrics {url} has no {FAMILY}: give the /metrics of an mlgate server "
                "that serves the environment"
            )
        for name, labels, value in samples:
            version = labels.get("version")
            if version is None:
                continue
            if name == REQUESTS:
                requests[version] = requests.get(version, 0) + int(value)
                if labels.get("status", "").startswith("5"):
                    errors[version] = errors.get(version, 0) + int(value)
            elif name == LATENCY_BUCKET:
                bound = float(labels.get("le", "inf"))
                counts = buckets.setdefault(version, {})
                counts[bound] = counts.get(bound, 0.0) + value
    return {
        version: Served(
            total, errors.get(version, 0), tuple(sorted(buckets.get(version, {}).items()))
        )
        for version, total in requests.items()
    }


def check_urls(urls: Sequence[str]) -> None:
    """Each URL can be one of a server's /metrics (said before any work is done)."""
    for url in urls:
        _split(url)


def _split(url: str) -> tuple[urllib.parse.SplitResult, str]:
    """The URL's parts and its host name."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018  (a port that is not a number raises here)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise MlgateError(f"--metrics {url!r} is not an http(s) URL of a server's /metrics")
    return parts, parts.hostname


def _fetch(url: str) -> str:
    parts, host = _split(url)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    try:
        connection = kind(host, parts.port, timeout=TIMEOUT_SECONDS)
        try:
            connection.request("GET", parts.path or "/metrics")
            response = connection.getresponse()
            body = response.read(MAX_BYTES + 1)
        finally:
            connection.close()
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise MlgateError(f"--metrics {url}: {exc}") from None
    if response.status != 200:  # a redirect too: never followed
        raise MlgateError(f"--metrics {url} answered {response.status}, not the metrics")
    if len(body) > MAX_BYTES:
        raise MlgateError(f"--metrics {url} answered more than {MAX_BYTES:,} bytes")
    return body.decode("utf-8", "replace")


def _samples(text: str, url: str) -> tuple[set[str], list[tuple[str, dict[str, str], float]]]:
    """The metric families the text declares, and every sample."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        families = list(text_string_to_metric_families(text))
        return {f.name for f in families}, [
            (s.name, dict(s.labels), float(s.value)) for f in families for s in f.samples
        ]
    except (ValueError, TypeError) as exc:
        raise MlgateError(f"--metrics {url} is not Prometheus' text format: {exc}") from None
