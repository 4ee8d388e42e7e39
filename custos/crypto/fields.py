"""Field encryption: `seal`/`open_` a text value with AES-256-GCM under the newest data key, and
`blind_index` for equality search.

Stored form: "e1:<key id>:<base64(nonce | ciphertext+tag)>". The associated data binds a ciphertext to
its column ("parties.id_no"), so a value cannot be moved to another column unnoticed. Empty values stay
empty (absence is not secret, and checks need to see it).
"""

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import cached_property

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from custos.crypto import keyring

PREFIX = "e1:"


class KeyMissing(LookupError):
    pass


@dataclass(frozen=True)
class Keys:
    data_keys: dict[str, bytes]  # id -> key, in keyring order
    current_id: str
    blind_key: bytes

    @classmethod
    def from_keyring(cls, data: dict | None = None) -> "Keys":
        data = keyring.read() if data is None else data
        entries = data.get("data_keys") or []
        if not entries or not data.get("blind_index_key"):
            raise KeyMissing("the keyring has no data keys: run `custos init`")
        keys = {e["id"]: base64.b64decode(e["key"]) for e in entries}
        return cls(keys, entries[-1]["id"], base64.b64decode(data["blind_index_key"]))

    @cached_property
    def _aead(self) -> dict[str, AESGCM]:
        return {kid: AESGCM(key) for kid, key in self.data_keys.items()}

    def seal(self, value: str | None, column: str) -> str:
        if not value:
            return ""
        nonce = os.urandom(12)
        ct = self._aead[self.current_id].encrypt(nonce, value.encode(), column.encode())
        return f"{PREFIX}{self.current_id}:{base64.b64encode(nonce + ct).decode()}"

    def open_(self, stored: str | None, column: str) -> str:
        if not stored:
            return ""
        if not stored.startswith(PREFIX):
            raise ValueError(f"{column}: value is not encrypted")
        kid, _, body = stored[len(PREFIX) :].partition(":")
        aead = self._aead.get(kid)
        if aead is None:
            raise KeyMissing(f"{column}: data key {kid} is not in the keyring")
        raw = base64.b64decode(body)
        return aead.decrypt(raw[:12], raw[12:], column.encode()).decode()

    def key_id_of(self, stored: str) -> str | None:
        return stored[len(PREFIX) :].split(":", 1)[0] if stored and stored.startswith(PREFIX) else None

    def blind_index(self, value: str | None, column: str) -> str:
        """Keyed, deterministic digest for equality search; empty for empty values."""
        if not value:
            return ""
        return hmac.new(self.blind_key, f"{column}\x00{value}".encode(), hashlib.sha256).hexdigest()[:32]
