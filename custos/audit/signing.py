"""The audit log's Ed25519 checkpoint keys, kept in the keyring file (mode 600) beside the other keys.

The keyring holds private keys under "audit_signing_keys"; the public half verifies checkpoints
independently of the database (whoever can rewrite the database cannot forge a signature).
"""

import base64
import fcntl
import json
import os
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from custos import paths


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}


def _write_private(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
    os.replace(tmp, path)


def _key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b32encode(raw).decode()[:16].lower()


def current_key() -> tuple[str, Ed25519PrivateKey]:
    """The newest signing key, created (and stored in the keyring) on first use."""
    path = paths.keyring_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = _read(path)
        keys = data.setdefault("audit_signing_keys", [])
        if not keys:
            private = Ed25519PrivateKey.generate()
            raw = private.private_bytes_raw()
            keys.append(
                {
                    "id": _key_id(private.public_key()),
                    "private": base64.b64encode(raw).decode(),
                    "created_at": int(time.time()),
                }
            )
            _write_private(path, data)
    entry = keys[-1]
    return entry["id"], Ed25519PrivateKey.from_private_bytes(base64.b64decode(entry["private"]))


def public_keys() -> dict[str, Ed25519PublicKey]:
    data = _read(paths.keyring_path())
    out = {}
    for entry in data.get("audit_signing_keys", []):
        private = Ed25519PrivateKey.from_private_bytes(base64.b64decode(entry["private"]))
        out[entry["id"]] = private.public_key()
    return out


def checkpoint_statement(tree_size: int, root_hash: bytes, at_us: int) -> bytes:
    return f"custos audit checkpoint v1\n{tree_size}\n{root_hash.hex()}\n{at_us}\n".encode()
