"""Password hashing with bcrypt, pre-hashed so long passphrases are never refused or truncated."""

from __future__ import annotations

import base64
import hashlib
import hmac

import bcrypt

from lucine_core.errors import ValidationError

__all__ = ["MAX_PASSWORD_BYTES", "MIN_PASSWORD_LENGTH", "BcryptPasswordHasher"]

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_BYTES = 256
# bcrypt reads at most 72 bytes (and bcrypt 5 refuses more); an HMAC-SHA256 digest in
# base64 is 44 bytes with no NUL, so every byte of a long passphrase counts.
_PREHASH_KEY = b"lucine-bcrypt-prehash-v1"


def _encode(password: str) -> bytes:
    """UTF-8 bytes of the password; text that is not valid Unicode (lone surrogates) is refused."""
    try:
        return password.encode()
    except UnicodeEncodeError:
        raise ValidationError(field="password", reason="must be valid text") from None


def _prehash(encoded: bytes) -> bytes:
    digest = hmac.new(_PREHASH_KEY, encoded, hashlib.sha256).digest()
    return base64.b64encode(digest)


class BcryptPasswordHasher:
    """bcrypt with a configurable cost (12 in production; tests may use the minimum, 4)."""

    def __init__(self, rounds: int = 12) -> None:
        self._rounds = rounds

    def hash(self, password: str) -> str:
        """Hash a password.

        Raises:
            ValidationError: shorter than MIN_PASSWORD_LENGTH or longer than MAX_PASSWORD_BYTES.
        """
        encoded = _encode(password)
        if len(password) < MIN_PASSWORD_LENGTH:
            raise ValidationError(
                field="password", reason=f"must be at least {MIN_PASSWORD_LENGTH} characters"
            )
        if len(encoded) > MAX_PASSWORD_BYTES:
            raise ValidationError(
                field="password", reason=f"must be at most {MAX_PASSWORD_BYTES} bytes"
            )
        return bcrypt.hashpw(_prehash(encoded), bcrypt.gensalt(self._rounds)).decode()

    def verify(self, password: str, hashed: str) -> bool:
        """True when the password matches; False for a wrong password or a malformed hash."""
        try:
            encoded = _encode(password)
            if len(encoded) > MAX_PASSWORD_BYTES:
                return False
            return bcrypt.checkpw(_prehash(encoded), hashed.encode())
        except (ValueError, ValidationError):
            return False
