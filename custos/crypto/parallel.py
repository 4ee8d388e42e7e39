"""Opening sealed values in a helper process (the snapshot writer's second CPU). Imports nothing
that needs Django set up: the process is spawned."""

from custos.crypto.fields import Keys

_keys: Keys | None = None


def init(data: dict) -> None:
    global _keys
    _keys = Keys.from_keyring(data)


def open_list(ad: str, values: list) -> list:
    return list(map(_keys.opener(ad), values))
