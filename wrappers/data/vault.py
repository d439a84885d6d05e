"""Saved secrets, encrypted at rest (AES-GCM, a key derived by HKDF from the site's
``data.secret_key``).

Each ciphertext is bound to the row it belongs to (its owner and id are the
associated data), so a blob copied into another person's row does not decrypt.
Nothing here logs; a blob that does not decrypt (the key was changed) reads as
"no secret saved", and she is asked to enter it again.
"""

from __future__ import annotations

import base64
import json
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["Vault", "VaultError"]

PREFIX = "v1:"
INFO = b"onestop data secrets v1"


class VaultError(Exception):
    """No key is configured, or a blob is not one of ours."""


class Vault:
    def __init__(self, secret_key: str) -> None:
        self._aead: AESGCM | None = None
        if secret_key:
            key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO).derive(
                secret_key.encode()
            )
            self._aead = AESGCM(key)

    @property
    def ready(self) -> bool:
        return self._aead is not None

    def seal(self, values: dict[str, str], bound_to: str) -> str:
        """``values`` as an opaque text for the database; "" when there are none."""
        if not values:
            return ""
        if self._aead is None:
            raise VaultError("no data.secret_key is configured")
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, json.dumps(values).encode(), bound_to.encode())
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, blob: str, bound_to: str) -> dict[str, str]:
        """What ``seal`` sealed for this row; {} for "" and for what no longer opens."""
        if not blob:
            return {}
        if self._aead is None or not blob.startswith(PREFIX):
            raise VaultError("this secret cannot be read with the configured key")
        raw = base64.urlsafe_b64decode(blob.removeprefix(PREFIX))
        try:
            plain = self._aead.decrypt(raw[:12], raw[12:], bound_to.encode())
        except InvalidTag:
            raise VaultError("this secret cannot be read with the configured key") from None
        values = json.loads(plain)
        return {str(key): str(value) for key, value in values.items()}
