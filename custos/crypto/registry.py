"""What the apps seal outside EncryptedTextField, registered by each app: crypto imports no app.

Key rotation (custos.crypto.rotate) re-seals every encrypted column and sealed file under the newest
data key and retires a key only when nothing uses it. Columns declared with EncryptedTextField are
found by introspecting the models; the rest — values sealed by hand into plain columns, sealed files
on disk, files whose key id must keep a key alive — are registered here by the app that owns them,
in its AppConfig.ready():

    from custos.crypto import registry
    registry.sealed_columns(lambda: [Column(MyModel._meta.db_table, "value", "myapp.value")])
    registry.sealed_files("my files", reseal_my_files)      # returns how many it re-sealed
    registry.key_users("my files", key_ids_of_my_files)     # returns the key ids still in use
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    db_table: str
    column: str
    ad: str  # associated data; "{}" is replaced by the row's `ad_from` column
    deterministic: bool = False
    ad_from: str | None = None
    only: tuple[str, ...] = ()  # with ad_from: the values of that column whose rows are sealed


_COLUMNS: list[Callable[[], list[Column]]] = []
_FILES: dict[str, Callable[[], int]] = {}
_KEY_USERS: dict[str, Callable[[], set[str]]] = {}


def sealed_columns(provider: Callable[[], list[Column]]) -> None:
    """Register a function that lists columns sealed by hand (called when rotation runs)."""
    if provider not in _COLUMNS:
        _COLUMNS.append(provider)


def sealed_files(name: str, reseal: Callable[[], int]) -> None:
    """Register a function that re-seals one kind of sealed file under the current key."""
    _FILES[name] = reseal


def key_users(name: str, key_ids: Callable[[], set[str]]) -> None:
    """Register a function that names the data keys something outside the database still needs."""
    _KEY_USERS[name] = key_ids


def extra_columns() -> list[Column]:
    return [column for provider in _COLUMNS for column in provider()]


def reseal_files() -> dict[str, int]:
    return {name: reseal() for name, reseal in _FILES.items()}


def keys_in_use_outside_tables() -> set[str]:
    return {kid for key_ids in _KEY_USERS.values() for kid in key_ids()}
