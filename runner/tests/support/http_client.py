"""One HTTP request to a runner under test (in a thread or a subprocess), with its answer.

Shared by the in-process API harness (api_harness.py) and the ``pes runner serve``
subprocess harness (runner_proc.py): a bearer token, a JSON body (or raw bytes) and extra
headers; an error status is an answer like any other, not an exception.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

import attrs


@attrs.frozen
class Answer:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def request(
    base: str,
    method: str,
    path: str,
    body: object = None,
    *,
    token: str | None,
    headers: Mapping[str, str] | None = None,
    raw: bytes | None = None,
    timeout: float = 20,
) -> Answer:
    """``METHOD base+path`` with ``body`` as JSON (or ``raw`` as it is) and ``token``, if any."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(base + path, data=data, method=method)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return Answer(resp.status, _lower(resp.headers.items()), resp.read())
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, _lower(exc.headers.items()), exc.read())


def _lower(items: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in items}
