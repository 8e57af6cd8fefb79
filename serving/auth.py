"""The bearer-token check shared by /invocations and the info endpoints."""

from __future__ import annotations

import hmac

from mlcadence.serving.errors import Unauthenticated


def bearer_matches(authorization: bytes, token: bytes) -> bool:
    """`authorization` is the header's raw bytes (ASGI gives them as sent), so a
    UTF-8 token compares with the configured one byte for byte."""
    scheme, _, given = authorization.partition(b" ")
    return scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), token)


def require_bearer(authorization: bytes, token: bytes) -> None:
    if not bearer_matches(authorization, token):
        raise Unauthenticated(
            "Missing or wrong bearer token: send 'Authorization: Bearer <token>' with the "
            "token the server was started with (MLCADENCE_SERVING_TOKEN).",
            headers={"WWW-Authenticate": "Bearer"},
        )


def authorization_header(headers: list[tuple[bytes, bytes]]) -> bytes:
    """The raw Authorization header of an ASGI scope's header list."""
    for name, value in headers:
        if name == b"authorization":
            return value
    return b""
