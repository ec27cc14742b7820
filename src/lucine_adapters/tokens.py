"""Operator tokens as JWTs (HS256), checked strictly: algorithm, issuer, audience, times."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import jwt

from lucine_core.errors import AuthenticationError, ValidationError
from lucine_core.operators import Operator
from lucine_core.ports import TokenClaims

__all__ = ["MIN_KEY_BYTES", "JwtTokenIssuer"]

MIN_KEY_BYTES = 32
_ALGORITHM = "HS256"
_REQUIRED = ["exp", "iat", "nbf", "sub", "jti", "iss", "aud", "ver"]


class JwtTokenIssuer:
    """Issues and verifies HS256 JWTs with ``sub``, ``jti``, ``ver`` (token version) claims.

    Args:
        key: The signing key, at least 32 bytes from a CSPRNG.
        issuer: The ``iss`` claim, e.g. the server's public URL.
        audience: The ``aud`` claim.
        lifetime: How long a token is valid (8 hours by default).
        leeway: Tolerated clock skew between workers.
    """

    def __init__(
        self,
        key: bytes,
        *,
        issuer: str = "lucine",
        audience: str = "lucine-operators",
        lifetime: timedelta = timedelta(hours=8),
        leeway: timedelta = timedelta(seconds=10),
    ) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValidationError(
                field="secret_key", reason=f"must be at least {MIN_KEY_BYTES} bytes"
            )
        self._key = key
        self._issuer = issuer
        self._audience = audience
        self._lifetime = lifetime
        self._leeway = leeway

    def issue(self, operator: Operator, now: datetime) -> tuple[str, TokenClaims]:
        """A token for ``operator`` valid from ``now`` for the configured lifetime."""
        claims = TokenClaims(
            operator_id=operator.id,
            token_version=operator.token_version,
            token_id=secrets.token_urlsafe(16),
            expires_at=now + self._lifetime,
        )
        payload = {
            "sub": operator.id,
            "ver": operator.token_version,
            "jti": claims.token_id,
            "iss": self._issuer,
            "aud": self._audience,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int(claims.expires_at.timestamp()),
        }
        return jwt.encode(payload, self._key, algorithm=_ALGORITHM), claims

    def verify(self, token: str, now: datetime) -> TokenClaims:
        """The token's claims, if everything about it checks out at ``now``."""
        try:
            # PyJWT compares times with its own clock; pin it to ours by checking here.
            payload = jwt.decode(
                token,
                self._key,
                algorithms=[_ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                options={
                    "require": _REQUIRED,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
            sub, ver, jti = payload["sub"], payload["ver"], payload["jti"]
            exp, nbf, iat = (float(payload[k]) for k in ("exp", "nbf", "iat"))
        except (jwt.PyJWTError, KeyError, TypeError, ValueError):
            raise AuthenticationError() from None
        moment = now.timestamp()
        leeway = self._leeway.total_seconds()
        if not (isinstance(sub, str) and isinstance(ver, int) and isinstance(jti, str)):
            raise AuthenticationError()
        if moment >= exp + leeway or moment + leeway < nbf or moment + leeway < iat:
            raise AuthenticationError()
        return TokenClaims(
            operator_id=sub,
            token_version=ver,
            token_id=jti,
            expires_at=datetime.fromtimestamp(exp, UTC),
        )
