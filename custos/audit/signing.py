"""The audit log's Ed25519 checkpoint keys, kept in the keyring (mode 600) beside the other keys.

The keyring holds private keys under "audit_signing_keys"; their public half verifies checkpoints
independently of the database (whoever can rewrite the database cannot forge a signature).
"""

import base64
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from custos.crypto import keyring


def _key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b32encode(raw).decode()[:16].lower()


def _private(entry: dict) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(entry["private"]))


def current_key() -> tuple[str, Ed25519PrivateKey]:
    """The newest signing key, created (and stored in the keyring) on first use."""
    keys = keyring.read().get("audit_signing_keys")
    if not keys:
        with keyring.editing() as data:
            keys = data.setdefault("audit_signing_keys", [])
            if not keys:
                private = Ed25519PrivateKey.generate()
                keys.append(
                    {
                        "id": _key_id(private.public_key()),
                        "private": base64.b64encode(private.private_bytes_raw()).decode(),
                        "created_at": int(time.time()),
                    }
                )
    return keys[-1]["id"], _private(keys[-1])


def public_keys() -> dict[str, Ed25519PublicKey]:
    return {e["id"]: _private(e).public_key() for e in keyring.read().get("audit_signing_keys", [])}


def checkpoint_statement(tree_size: int, root_hash: bytes, at_us: int) -> bytes:
    return f"custos audit checkpoint v1\n{tree_size}\n{root_hash.hex()}\n{at_us}\n".encode()
