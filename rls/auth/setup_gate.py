"""Who may call ``POST /auth/setup``: setup makes its caller the admin, so on a fresh server
the first caller would win. It is allowed with a setup token (``X-Setup-Token``), or — when
``auth.setup_token`` is not configured — from a loopback client talking to the server
directly.

A setup token is either ``auth.setup_token`` from the configuration, or one printed by
``rest auth setup-token``: an expiry time signed with ``auth.secret``, so the server can
check it without storing anything. Setup itself runs once (a second one is a 409), which
makes any token good for one setup.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import time
from collections.abc import Callable, Mapping
from typing import Any

from rls.errors import Denied

SETUP_HEADER = "X-Setup-Token"
TOKEN_LIFETIME = 3600
"""Seconds a printed setup token stays valid."""

# The headers a client on this host sends when it talks to the server itself (curl, an
# HTTP library, the CLI). Through a reverse proxy every client looks like loopback, and a
# proxy adds headers of its own (Via, X-Forwarded-*, Forwarded, X-Real-IP, CF-Connecting-IP,
# …): any header outside this list means the request may have been relayed. An allow-list,
# as no list of proxy headers is complete.
_DIRECT_CLIENT_HEADERS = frozenset(
    {
        "HTTP_HOST", "HTTP_USER_AGENT", "HTTP_ACCEPT", "HTTP_ACCEPT_ENCODING", "HTTP_ACCEPT_LANGUAGE",
        "HTTP_CONNECTION", "HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH", "HTTP_EXPECT", "HTTP_TRANSFER_ENCODING",
        "HTTP_AUTHORIZATION", "HTTP_X_SETUP_TOKEN", "HTTP_X_REQUEST_ID",
    }
)  # fmt: skip


class SetupTokenUnavailable(ValueError):
    """Neither ``auth.setup_token`` nor ``auth.secret`` is configured: no token can be made."""


def _signature(secret: str, expires: int) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"rls-setup:{expires}".encode(), hashlib.sha256)
    return mac.hexdigest()


def make_setup_token(configured: str, secret: str, *, now: float | None = None) -> str:
    """The token to give ``POST /auth/setup``: the configured one, else one signed with
    ``secret`` that expires in :data:`TOKEN_LIFETIME` seconds.

    >>> make_setup_token("", "s" * 32, now=0).startswith("3600.")
    True
    """
    if configured:
        return configured
    if not secret:
        raise SetupTokenUnavailable("a setup token needs auth.secret or auth.setup_token in the configuration")
    expires = int(time.time() if now is None else now) + TOKEN_LIFETIME
    return f"{expires}.{_signature(secret, expires)}"


class SetupGate:
    """Decides whether a setup request may run; ``clock`` is injectable for tests."""

    def __init__(self, configured: str, secret: str, *, clock: Callable[[], float] = time.time):
        self._configured = configured
        self._secret = secret
        self._clock = clock

    def check(self, environ: Mapping[str, Any]) -> None:
        """Raise :class:`Denied` unless the request comes from loopback or holds a valid token."""
        presented = environ.get("HTTP_X_SETUP_TOKEN")
        if presented is not None:
            if self.valid_token(str(presented)):
                return
            raise Denied("invalid setup token")
        # A configured token is required of every caller: behind a relay that adds no
        # header (nginx's plain proxy_pass, ssh -L), a remote client looks like loopback.
        if not self._configured and is_direct_loopback(environ):
            return
        raise Denied(
            "setup is allowed from the server's own host, or with a setup token "
            f"({SETUP_HEADER} header; see rest auth setup-token)"
        )

    def valid_token(self, presented: str) -> bool:
        if self._configured and hmac.compare_digest(presented.encode(), self._configured.encode()):
            return True
        if not self._secret:
            return False
        expires_text, dot, signature = presented.partition(".")
        if not dot or not expires_text.isascii() or not expires_text.isdigit() or len(expires_text) > 12:
            return False
        expires = int(expires_text)
        good = hmac.compare_digest(signature.encode(), _signature(self._secret, expires).encode())
        return good and self._clock() < expires


def is_direct_loopback(environ: Mapping[str, Any]) -> bool:
    """The client is this host (127.0.0.0/8, ::1) and sends only the headers a client
    talking to the server directly sends (none a proxy adds).

    >>> is_direct_loopback({"REMOTE_ADDR": "127.0.0.1"}), is_direct_loopback({"REMOTE_ADDR": "10.0.0.1"})
    (True, False)
    >>> is_direct_loopback({"REMOTE_ADDR": "127.0.0.1", "HTTP_VIA": "1.1 proxy"})
    False
    """
    if any(key.startswith("HTTP_") and key not in _DIRECT_CLIENT_HEADERS for key in environ):
        return False
    try:
        address = ipaddress.ip_address(str(environ.get("REMOTE_ADDR") or ""))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback  # ::ffff:127.0.0.1 from a dual-stack socket
    return address.is_loopback
