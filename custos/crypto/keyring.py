"""The keyring file (CUSTOS_HOME/keyring.json, mode 600): the Django secret key, data-encryption keys
(versioned, newest active), the blind-index key and the audit signing keys.

A KMS can replace the file in production: everything that needs a key asks this module.
"""

import base64
import datetime as dt
import fcntl
import json
import os
import secrets
from contextlib import contextmanager
from pathlib import Path

from custos import paths


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def read(path: Path | None = None) -> dict:
    path = path or paths.keyring_path()
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}


def write(data: dict, path: Path | None = None) -> None:
    """Atomically replace the keyring, mode 600 from the first byte."""
    path = path or paths.keyring_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
    os.replace(tmp, path)


@contextmanager
def editing(path: Path | None = None):
    """Read-modify-write the keyring under an exclusive file lock."""
    path = path or paths.keyring_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = read(path)
        yield data
        write(data, path)


def new_data_key() -> dict:
    return {
        "id": secrets.token_hex(4),
        "key": base64.b64encode(secrets.token_bytes(32)).decode(),
        "created_at": now(),
    }


def ensure_data_keys(data: dict) -> bool:
    """Give a keyring its first data key and blind-index key; True when something was added."""
    changed = False
    if not data.get("data_keys"):
        data["data_keys"] = [new_data_key()]
        changed = True
    if not data.get("blind_index_key"):
        data["blind_index_key"] = base64.b64encode(secrets.token_bytes(32)).decode()
        changed = True
    return changed
