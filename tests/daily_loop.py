"""What the daily loop's end-to-end tests share, on either forge: the policy of a project
whose retraining is merged, released, promoted and canaried by itself, and the traffic sent to
the served model."""

from __future__ import annotations

import json

from mlgate.pipeline.synthetic import generate_transactions

POLICY_OF_THE_LOOP = """\
[tool.mlgate]
base = "main"

[tool.mlgate.rules]
roc_auc = {{ min = 0.6 }}

[tool.mlgate.retrain]
refresh = ["ingest"]
auto_merge = true
auto_promote = "staging"

[tool.mlgate.canary]
min_requests = 5  # of 50 rows each

[tool.mlgate.environments.staging]
target = "{staging}"

[tool.mlgate.environments.production]
target = "{target}"
"""


def send(
    address: str, rows: int, seed: int, drift: float, names: list[str], prefix: str = ""
) -> dict[str, int]:
    """Transactions to the served model, 50 per request, over HTTP; with ``prefix``, each
    request with the id ``<prefix>-<n>``: then each row's id in the log and its true label."""
    import http.client

    frame = generate_transactions(rows, seed=seed, drift=drift)
    truth: dict[str, int] = {}
    connection = http.client.HTTPConnection(address, timeout=30)
    for start in range(0, rows, 50):
        part = frame.iloc[start : start + 50]
        document = json.loads(part[names].to_json(orient="split", index=False))
        headers = {"Content-Type": "application/json"}
        if prefix:
            headers["X-Request-Id"] = request_id = f"{prefix}-{start // 50}"
            for n, label in enumerate(part["is_fraud"]):
                truth[f"{request_id}/{n}"] = int(label)
        connection.request(
            "POST", "/invocations", json.dumps({"dataframe_split": document}), headers=headers
        )
        response = connection.getresponse()
        assert response.status == 200, response.read()
        response.read()
    connection.close()
    return truth


def get(address: str, path: str) -> bytes:
    import http.client

    connection = http.client.HTTPConnection(address, timeout=30)
    try:
        connection.request("GET", path)
        return connection.getresponse().read()
    finally:
        connection.close()
