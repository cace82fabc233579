"""Secrets at rest: Fernet encryption with key rotation.

Keys come from SLIPWAY_ENCRYPTION_KEYS (newest first). Without them a key is
derived from SECRET_KEY, which is enough for a development install.
"""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


class SecretUnreadable(Exception):
    """Stored ciphertext that none of the configured keys opens (a rotated-away key)."""


@functools.cache
def _fernet() -> MultiFernet:
    keys = list(settings.SLIPWAY_ENCRYPTION_KEYS)
    if not keys:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"slipway-secrets", info=b"fernet").derive(
            settings.SECRET_KEY.encode()
        )
        keys = [base64.urlsafe_b64encode(derived).decode()]
    return MultiFernet([Fernet(k) for k in keys])


def encrypt(plaintext: str) -> str:
    if not plaintext:
        return ""
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    if not ciphertext:
        return ""
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("a stored secret cannot be decrypted with the configured keys") from None


def mask(plaintext: str) -> str:
    """What a page may show of a secret: that it is set, and its last four characters at most."""
    if not plaintext:
        return ""
    return "•••• " + plaintext[-4:] if len(plaintext) >= 12 else "••••"
