"""OAuth2 access tokens for FCM from a Google service account's JSON key.

FCM HTTP v1 takes a short-lived OAuth2 access token (``Authorization: Bearer …``). A server
gets one with the service account's key (RFC 7523, the "JWT bearer" grant, as Google's
"Using OAuth 2.0 for Server to Server Applications" describes): it signs a JWT with the
key's RSA private key (RS256) whose claims are

* ``iss``: the key's ``client_email``;
* ``scope``: ``https://www.googleapis.com/auth/firebase.messaging``;
* ``aud``: the key's ``token_uri`` (``https://oauth2.googleapis.com/token``);
* ``iat`` and ``exp``: now and at most one hour later;

and posts it, form-encoded with ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer``,
to ``token_uri``. The answer's ``access_token`` is good for ``expires_in`` seconds (an
hour): :class:`AccessTokens` keeps it and fetches a new one a few minutes before it ends, or
at once when FCM answers 401 (:meth:`AccessTokens.invalidate`).

The private key and the access tokens are secrets: never logged, never in a ``repr`` or an
error. Reading and checking the key touches no network.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pes_sdk.errors import ConfigError
from pes_sdk.http import HttpClient, HttpError, HttpResponse, HttpTimeout
from pes_sdk.notifications import ChannelError, ChannelUnavailable
from pes_sdk.notifications.settings import is_loopback_url

__all__ = [
    "GRANT_TYPE",
    "SCOPE",
    "TOKEN_LIFETIME",
    "AccessTokens",
    "ServiceAccount",
    "is_loopback_url",
]

#: The OAuth2 scope FCM HTTP v1 asks for.
SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
#: RFC 7523's grant type.
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
#: The longest a Google assertion may live (``exp - iat``), in seconds.
TOKEN_LIFETIME = 3600
#: Fetch a new access token this long before the current one ends (or at half its life, if
#: shorter): a message sent with a token about to end must not meet a 401 on the way.
REFRESH_MARGIN = 300.0

_REQUIRED = ("type", "project_id", "private_key", "client_email", "token_uri")


def _check_https(url: str, what: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and is_loopback_url(url):
        return url  # a simulator on loopback: nothing leaves the machine
    raise ConfigError(f"{what} must be an https URL (http only to a loopback host), not {url!r}")


@attrs.frozen(repr=False)
class ServiceAccount:
    """What the channel uses of a service account's JSON key."""

    project_id: str
    client_email: str
    token_uri: str
    private_key_id: str
    private_key: rsa.RSAPrivateKey = attrs.field(eq=False)
    source: str = ""

    def __repr__(self) -> str:
        # the e-mail names a robot, not a person; the key never shows
        return f"ServiceAccount({self.client_email!r}, project {self.project_id!r})"

    @classmethod
    def from_file(cls, path: Path) -> ServiceAccount:
        """Read and check the JSON key at ``path``; :class:`ConfigError` naming what is wrong
        (never quoting the key)."""
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ConfigError(
                f"FCM service account key {str(path)!r}: cannot read it ({exc.strerror})"
            ) from None
        try:
            info = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ConfigError(
                f"FCM service account key {str(path)!r}: not a JSON document"
            ) from None
        if not isinstance(info, dict):
            raise ConfigError(f"FCM service account key {str(path)!r}: not a JSON object")
        return cls.from_info(info, source=str(path))

    @classmethod
    def from_info(cls, info: Mapping[str, Any], *, source: str = "") -> ServiceAccount:
        """Check the parsed key ``info`` (the fields Google's key file has)."""
        where = f"FCM service account key {source!r}" if source else "FCM service account key"
        missing = [k for k in _REQUIRED if not isinstance(info.get(k), str) or not info[k]]
        if missing:
            raise ConfigError(f"{where}: missing {', '.join(missing)}")
        if info["type"] != "service_account":
            raise ConfigError(f"{where}: type is {info['type']!r}, not 'service_account'")
        token_uri = _check_https(info["token_uri"], f"{where}: token_uri")
        try:
            key = serialization.load_pem_private_key(info["private_key"].encode(), password=None)
        except (ValueError, TypeError):
            # the loader's message may quote bytes of the key: only say that it failed
            raise ConfigError(f"{where}: private_key is not a PEM private key") from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ConfigError(f"{where}: private_key is not an RSA key (RS256 needs one)")
        return cls(
            project_id=info["project_id"],
            client_email=info["client_email"],
            token_uri=token_uri,
            private_key_id=str(info.get("private_key_id") or ""),
            private_key=key,
            source=source,
        )

    def assertion(self, now: float, lifetime: int = TOKEN_LIFETIME) -> str:
        """The signed JWT (RS256) to exchange at :attr:`token_uri`, issued at ``now``."""
        if not 0 < lifetime <= TOKEN_LIFETIME:
            raise ValueError(f"an assertion lives 1 to {TOKEN_LIFETIME} s, not {lifetime}")
        issued = int(now)
        claims = {
            "iss": self.client_email,
            "scope": SCOPE,
            "aud": self.token_uri,
            "iat": issued,
            "exp": issued + lifetime,
        }
        headers = {"kid": self.private_key_id} if self.private_key_id else None
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers=headers)


@attrs.define(repr=False)
class _Token:
    value: str
    refresh_at: float  # on the monotonic clock


class AccessTokens:
    """The current access token of a service account, fetched when needed. Thread-safe.

    :param client: the channel's HTTP client (``token_uri`` is an absolute URL).
    :param wall: the wall clock (``iat``/``exp`` of the assertion), for tests.
    :param monotonic: when to refresh, for tests.
    """

    def __init__(
        self,
        account: ServiceAccount,
        client: HttpClient,
        *,
        channel: str = "fcm",
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.account = account
        self._client = client
        self._channel = channel
        self._wall = wall
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._token: _Token | None = None
        #: how many exchanges this object made (successful or not)
        self.exchanges = 0

    def __repr__(self) -> str:
        return f"AccessTokens({self.account!r})"

    def get(self) -> str:
        """A token valid for a while yet: the cached one, or a fresh one from ``token_uri``."""
        with self._lock:
            token = self._token
            if token is None or self._monotonic() >= token.refresh_at:
                token = self._token = self._exchange()
            return token.value

    def invalidate(self, used: str) -> None:
        """Forget ``used`` (FCM refused it with 401); the next :meth:`get` fetches anew.

        Only that token: a thread that already refreshed it keeps its new one.
        """
        with self._lock:
            if self._token is not None and self._token.value == used:
                self._token = None

    def _exchange(self) -> _Token:
        started = self._monotonic()
        self.exchanges += 1
        body = urllib.parse.urlencode(
            {"grant_type": GRANT_TYPE, "assertion": self.account.assertion(self._wall())}
        ).encode("ascii")
        try:
            answer = self._client.send(
                "POST",
                self.account.token_uri,
                content=body,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        except HttpTimeout:
            raise ChannelUnavailable(
                "the OAuth2 token endpoint did not answer in time",
                channel=self._channel,
                code="token-timeout",
            ) from None
        except HttpError as exc:
            raise ChannelUnavailable(
                f"the OAuth2 token endpoint cannot be reached ({type(exc).__name__})",
                channel=self._channel,
                code="token-unreachable",
            ) from None
        if answer.status != 200:
            raise self._refused(answer)
        try:
            payload = answer.json()
            value = payload["access_token"]
            lifetime = float(payload.get("expires_in", TOKEN_LIFETIME))
        except (ValueError, KeyError, TypeError):
            raise ChannelUnavailable(
                "the OAuth2 token endpoint answered without an access token",
                channel=self._channel,
                code="token-garbled",
            ) from None
        if not isinstance(value, str) or not value or not lifetime > 0:
            raise ChannelUnavailable(
                "the OAuth2 token endpoint answered without an access token",
                channel=self._channel,
                code="token-garbled",
            )
        margin = min(REFRESH_MARGIN, lifetime / 2)
        return _Token(value, started + lifetime - margin)

    def _refused(self, answer: HttpResponse) -> ChannelError:
        if answer.status == 429 or answer.status >= 500:
            return ChannelUnavailable(
                f"the OAuth2 token endpoint answered {answer.status}",
                channel=self._channel,
                code="token-unavailable",
                retry_after=answer.retry_after(),
            )
        error = ""
        try:
            payload = answer.json()
            if isinstance(payload, dict) and isinstance(payload.get("error"), str):
                error = payload["error"]  # "invalid_grant": a code, never the assertion
        except ValueError:
            pass
        # a key revoked or disabled, a clock far off, a wrong token_uri: a person must look
        return ChannelError(
            f"the OAuth2 token endpoint refused the service account's assertion "
            f"({answer.status} {error or 'no error code'}): check the key and the clock",
            channel=self._channel,
            code=error or f"token-{answer.status}",
        )
