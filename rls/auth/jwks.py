"""Public keys of an identity provider: a JSON Web Key Set read from a file or a URL.

Only asymmetric signing keys are taken (RSA of at least 2048 bits, EC P-256/384/521,
Ed25519); each key verifies exactly one algorithm — its own ``alg``, or the one its type
and curve imply — so the algorithm a token names can never choose how its key is used.
A URL is fetched with the standard library, bounded in size and time, without
redirects; the keys are kept for ``ttl`` seconds and fetched again when a token names
an unknown ``kid``, at most once per ``refetch_interval``. When no current key set can
be had, tokens are refused (503), never accepted.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt

from rls.errors import InvalidToken, Unavailable

if TYPE_CHECKING:
    from rls.config import Config

log = logging.getLogger("rls.auth")

FAMILIES: Mapping[str, tuple[str, str | None]] = {
    "RS256": ("RSA", None),
    "RS384": ("RSA", None),
    "RS512": ("RSA", None),
    "PS256": ("RSA", None),
    "PS384": ("RSA", None),
    "PS512": ("RSA", None),
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "ES512": ("EC", "P-521"),
    "EdDSA": ("OKP", "Ed25519"),
}
"""The asymmetric algorithms accepted, each with the key type (and curve) it needs."""

MIN_RSA_BITS = 2048


class JwksError(Exception):
    """A key set that cannot be read or holds no usable key; the message says why."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One public key and the only algorithm it verifies."""

    kid: str | None
    algorithm: str
    key: Any


def parse_jwks(raw: bytes) -> tuple[SigningKey, ...]:
    """The usable signing keys of a JWKS document; keys for other uses or of other types
    are skipped (providers publish encryption keys too).

    Raises:
        JwksError: not a JWKS, or no usable key in it.
    """
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise JwksError("the key set is not JSON") from None
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list):
        raise JwksError('the key set has no "keys" array')
    usable = tuple(k for k in (signing_key(jwk) for jwk in keys) if k is not None)
    if not usable:
        raise JwksError("the key set holds no usable signing key (RSA ≥ 2048 bits, EC, Ed25519)")
    return usable


def signing_key(jwk: Any) -> SigningKey | None:
    """The key a JWK describes, or None when rls does not verify with it."""
    if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig":
        return None
    kid = jwk.get("kid")
    if kid is not None and not isinstance(kid, str):
        return None
    try:
        parsed = jwt.PyJWK(jwk)
    except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
        log.warning("JWKS key %r skipped: not a key rls can use", kid)
        return None
    family = FAMILIES.get(parsed.algorithm_name)
    # A symmetric ("oct") key or one whose alg does not fit its type is never used:
    # HMAC keys come only from auth.secret.
    if family is None or jwk.get("kty") != family[0] or (family[1] is not None and jwk.get("crv") != family[1]):
        log.warning("JWKS key %r skipped: algorithm %s does not fit its key type", kid, parsed.algorithm_name)
        return None
    if family[0] == "RSA" and parsed.key.key_size < MIN_RSA_BITS:
        log.warning("JWKS key %r skipped: RSA keys need at least %d bits", kid, MIN_RSA_BITS)
        return None
    return SigningKey(kid, parsed.algorithm_name, parsed.key)


def file_loader(path: str, *, max_bytes: int) -> Callable[[], bytes]:
    """Read the key set from ``path`` (at most ``max_bytes``)."""

    def load() -> bytes:
        try:
            with Path(path).open("rb") as f:
                data = f.read(max_bytes + 1)
        except OSError as exc:
            raise JwksError(f"cannot read {path}: {exc.strerror}") from None
        if len(data) > max_bytes:
            raise JwksError(f"the key set is larger than {max_bytes} bytes (auth.jwks_max_bytes)")
        return data

    return load


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect could downgrade https to http or leave the configured host.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        raise JwksError("the key set URL redirects; configure the final URL")


def url_loader(url: str, *, timeout: float, max_bytes: int) -> Callable[[], bytes]:
    """Fetch the key set from ``url`` (at most ``max_bytes``, ``timeout`` seconds per read)."""
    opener = urllib.request.build_opener(_NoRedirects)

    def load() -> bytes:
        request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 - scheme checked
        try:
            with opener.open(request, timeout=timeout) as response:
                data: bytes = response.read(max_bytes + 1)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise JwksError(f"cannot fetch the key set: {type(exc).__name__}") from None
        if len(data) > max_bytes:
            raise JwksError(f"the key set is larger than {max_bytes} bytes (auth.jwks_max_bytes)")
        return data

    return load


class JwksKeys:
    """The current key set of one source, refreshed as the module docstring says.

    No I/O here: the first token that needs a key loads the set.
    """

    def __init__(
        self,
        load: Callable[[], bytes],
        *,
        ttl: float = 300,
        refetch_interval: float = 30,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._load = load
        self.ttl = ttl
        self.refetch_interval = refetch_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: tuple[SigningKey, ...] | None = None
        self._expires = 0.0
        self._attempted: float | None = None
        self.fetches = 0

    def key_for(self, kid: str | None, algorithm: str) -> SigningKey:
        """The key for a token's ``kid`` and ``alg``.

        Raises:
            InvalidToken: no key has this kid (after at most one refetch) or it verifies
                another algorithm; without a kid, not exactly one key for ``algorithm``.
            Unavailable: no current key set (the source failed and the last set expired).
        """
        with self._lock:
            now = self._clock()
            if self._keys is None or now >= self._expires:
                self._refresh(now)
            key = _find(self._keys or (), kid, algorithm)
            if key is None and kid is not None and self._may_fetch(now):
                self._refresh(now)
                key = _find(self._keys or (), kid, algorithm)
        if key is None:
            raise InvalidToken("invalid token")
        return key

    def _may_fetch(self, now: float) -> bool:
        return self._attempted is None or now - self._attempted >= self.refetch_interval

    def _refresh(self, now: float) -> None:
        if not self._may_fetch(now):
            if self._keys is None or now >= self._expires:
                raise _unavailable()
            return
        self._attempted = now
        self.fetches += 1
        try:
            keys = parse_jwks(self._load())
        except JwksError as exc:
            log.warning("identity provider keys not refreshed: %s", exc)
            if self._keys is None or now >= self._expires:
                self._keys = None  # an expired set is never used again
                raise _unavailable() from None
            return
        self._keys, self._expires = keys, now + self.ttl


def _unavailable() -> Unavailable:
    return Unavailable(
        "cannot verify tokens: the identity provider's keys are unavailable", headers={"Retry-After": "5"}
    )


def _find(keys: tuple[SigningKey, ...], kid: str | None, algorithm: str) -> SigningKey | None:
    if kid is not None:
        found = [k for k in keys if k.kid == kid]
    else:
        found = [k for k in keys if k.algorithm == algorithm]
    # A kid names one key; without a kid, only an unambiguous key is used.
    if len(found) != 1 or found[0].algorithm != algorithm:
        return None
    return found[0]


def keys_from_config(config: Config) -> JwksKeys | None:
    """The key set the configuration names (``auth.jwks_file`` or ``auth.jwks_url``), or None."""
    if config.jwks_file:
        load = file_loader(config.jwks_file, max_bytes=config.jwks_max_bytes)
    elif config.jwks_url:
        load = url_loader(config.jwks_url, timeout=config.jwks_timeout, max_bytes=config.jwks_max_bytes)
    else:
        return None
    return JwksKeys(load, ttl=config.jwks_cache_seconds, refetch_interval=config.jwks_refetch_seconds)
