"""API keys: ``Authorization: Bearer KEY``, or ``?token=KEY`` on the WebSocket handshake only.

Browsers cannot set headers on a WebSocket handshake, so the query parameter exists for that
one case; on plain HTTP it is refused (a key in a URL ends up in proxies' and browsers' logs).

Keys are compared in constant time (``hmac.compare_digest``) against every configured key,
so the time taken says nothing about which key or how much of it matched. Keys are never
logged: settings hold them as ``SecretStr``.
"""

from __future__ import annotations

import hmac

from pydantic import SecretStr
from starlette.requests import HTTPConnection

from posecast.errors import AuthenticationError


def is_valid_key(candidate: str | None, keys: list[SecretStr]) -> bool:
    """Whether ``candidate`` is one of ``keys`` (True when no keys are configured)."""
    if not keys:
        return True
    if not candidate:
        return False
    given = candidate.encode()
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(given, key.get_secret_value().encode())
    return matched


def bearer_token(connection: HTTPConnection) -> str | None:
    """The key of an ``Authorization: Bearer`` header, else None."""
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def connection_token(connection: HTTPConnection) -> str | None:
    """The bearer key, or on a WebSocket handshake the ``token`` query parameter."""
    if connection.scope["type"] == "websocket":
        return bearer_token(connection) or connection.query_params.get("token")
    return bearer_token(connection)


def check_api_key(connection: HTTPConnection, keys: list[SecretStr]) -> None:
    """Raises AuthenticationError unless the connection carries a configured key."""
    if not is_valid_key(connection_token(connection), keys):
        raise AuthenticationError("missing or invalid API key")
