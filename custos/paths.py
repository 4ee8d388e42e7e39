"""Where custos keeps its state. Everything lives under one directory (CUSTOS_HOME, default ./var)."""

import os
from pathlib import Path


def home() -> Path:
    return Path(os.environ.get("CUSTOS_HOME", "var")).resolve()


def keyring_path() -> Path:
    return Path(os.environ.get("CUSTOS_KEYRING", str(home() / "keyring.json")))


def snapshots_dir() -> Path:
    return home() / "snapshots"


def uploads_dir() -> Path:
    return home() / "uploads"
