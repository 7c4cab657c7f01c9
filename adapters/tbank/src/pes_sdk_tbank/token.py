"""T-Bank's request and notification signature, the ``Token``.

As documented (developer.tbank.ru, eacq, "Токен"):

1. take the **root-level** parameters of the request as key/value pairs; nested objects and
   arrays (``Receipt``, ``DATA``, ``Items``, …) take no part, nor does ``Token`` itself;
2. add the pair ``Password`` (the terminal's password from the merchant's cabinet);
3. sort the pairs alphabetically by key;
4. concatenate the **values** only into one string;
5. the token is the SHA-256 of that string (UTF-8), in lowercase hex.

The same rule signs the notifications T-Bank POSTs to ``NotificationURL``; they are checked
here in constant time. How a non-string scalar becomes text: booleans as ``true`` /
``false`` (as they appear in the JSON), integers in decimal; ``null`` values are left out.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

__all__ = ["make_token", "token_pairs", "verify_token"]


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, Mapping | list | tuple):
        return None  # nested objects and arrays are not signed
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        # amounts are integer kopecks; a float here is a bug, never silently signed
        raise TypeError("T-Bank parameters carry no floats (amounts are integer kopecks)")
    return str(value)


def token_pairs(params: Mapping[str, Any], password: str) -> list[tuple[str, str]]:
    """The sorted (key, value) pairs the token is made of: root scalars plus ``Password``."""
    pairs = [(k, t) for k, v in params.items() if k != "Token" and (t := _text(v)) is not None]
    pairs.append(("Password", password))
    return sorted(pairs)


def make_token(params: Mapping[str, Any], password: str) -> str:
    """The ``Token`` of a request or notification (lowercase hex SHA-256)."""
    if not password:
        raise ValueError("a T-Bank terminal password must not be empty")
    joined = "".join(value for _, value in token_pairs(params, password))
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


def verify_token(params: Mapping[str, Any], password: str) -> bool:
    """True when ``params["Token"]`` is the token of ``params``; compared in constant time."""
    given = params.get("Token")
    if not isinstance(given, str):
        return False
    expected = make_token(params, password).encode("ascii")
    return hmac.compare_digest(expected, given.strip().lower().encode("ascii", "replace"))
