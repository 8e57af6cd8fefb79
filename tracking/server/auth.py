"""Bearer tokens with a `read` or `write` scope.

Configuration is text, one entry per line (or per comma, for an environment
variable): `<token> <scope>`, scope `read` or `write`; blank lines and `#`
comments are ignored. A `write` token may also read. No token configured
means an open server.

Requests carry `Authorization: Bearer <token>` (what the mlflow client sends
with MLFLOW_TRACKING_TOKEN). Tokens are kept as SHA-256 digests and looked up
by digest, so neither a comparison's timing nor a memory dump gives one away;
no token, header or digest is ever logged.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field

from mlcadence.tracking.errors import TrackingError

READ, WRITE = "read", "write"
SCOPES = (READ, WRITE)


class Unauthenticated(TrackingError):
    error_code = "UNAUTHENTICATED"


class PermissionDenied(TrackingError):
    error_code = "PERMISSION_DENIED"


class AuthConfigError(TrackingError):
    error_code = "INVALID_PARAMETER_VALUE"


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


@dataclass(frozen=True)
class TokenAuth:
    """Token digests -> scope."""

    scopes: dict[bytes, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str, origin: str) -> TokenAuth:
        scopes: dict[bytes, str] = {}
        for number, line in enumerate(re.split(r"[\n,]", text), start=1):
            entry = line.split("#", 1)[0].strip()
            if not entry:
                continue
            parts = entry.split()
            if len(parts) != 2 or parts[1] not in SCOPES:
                # The entry is not echoed: it may hold a token.
                raise AuthConfigError(
                    f"{origin}: entry {number} is not '<token> <scope>' with scope 'read' or "
                    "'write'. Fix that entry (one token and its scope per line)."
                )
            scopes[_digest(parts[0])] = parts[1]
        return cls(scopes)

    def __bool__(self) -> bool:
        return bool(self.scopes)

    def check(self, authorization: str | None, needed: str) -> None:
        """Raise Unauthenticated (401) or PermissionDenied (403) unless the
        header's token grants `needed`."""
        if not self.scopes:
            return
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated(
                "This server needs a token: send 'Authorization: Bearer <token>' (the mlflow "
                "client sends MLFLOW_TRACKING_TOKEN)."
            )
        scope = self.scopes.get(_digest(token.strip()))
        if scope is None:
            raise Unauthenticated("The token is not valid for this server; check the token.")
        if needed == WRITE and scope != WRITE:
            raise PermissionDenied(
                "This token may only read; this request writes. Use a token with the 'write' scope."
            )


def load_auth(tokens_file: str | os.PathLike | None, tokens_text: str | None) -> TokenAuth | None:
    """The tokens of `tokens_file` and `tokens_text` together; None when both are empty."""
    scopes: dict[bytes, str] = {}
    if tokens_file:
        try:
            with open(tokens_file, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise AuthConfigError(
                f"Cannot read the tokens file '{tokens_file}': {exc.strerror}. "
                "Check --tokens-file (or MLCADENCE_SERVER_TOKENS_FILE)."
            ) from None
        scopes.update(TokenAuth.parse(text, f"tokens file '{tokens_file}'").scopes)
    if tokens_text:
        scopes.update(TokenAuth.parse(tokens_text, "MLCADENCE_SERVER_TOKENS").scopes)
    return TokenAuth(scopes) if scopes else None
