"""Replacing the blind-index key (it leaked, or policy says so): `custos keys replace-index-key`.

The blind-index key also derived the synthetic nonces of stored values and the tracing key of issued
extraction files. Replacing it therefore first pins those two in the keyring at their current values
(`synthetic_nonce_key`, `tracing_key`): stored ciphertexts, the loader's change detection and the
tracing of files issued before stay as they were. Then a new key is written to the keyring as
`pending_blind_index_key`; every `BlindIndexField` column is rebuilt under it in ONE transaction
(a failure leaves the old indexes, which the old key still serves); after the commit the pending key
becomes the blind-index key. A run interrupted after the commit but before the promotion is finished
by running the command again (it rebuilds under the same pending key, then promotes).

Offline: the application must be stopped. A process still running with the old key would index new
rows under it, and its searches would miss the rebuilt rows.
"""

from __future__ import annotations

import base64
import dataclasses
import secrets
from collections.abc import Callable

from django.apps import apps
from django.db import connection, transaction

from custos.crypto import keyring
from custos.crypto.fields import BlindIndexField, EncryptedTextField, Keys, keys

CHUNK = 5000
# (before, after) pairs registered by apps whose rows cover the indexes (custos.integrity's tags):
# `before()` runs first in the rebuild's transaction, `after(its result)` once every index is rebuilt
_REBUILD_HOOKS: list[tuple[Callable[[], object], Callable[[object], None]]] = []


def on_rebuild(before: Callable[[], object], after: Callable[[object], None]) -> None:
    if (before, after) not in _REBUILD_HOOKS:
        _REBUILD_HOOKS.append((before, after))


def indexed_models() -> list[tuple[type, list[BlindIndexField]]]:
    out = []
    for model in apps.get_models():
        fields = [f for f in model._meta.concrete_fields if isinstance(f, BlindIndexField)]
        if fields and not model._meta.proxy:
            out.append((model, fields))
    return out


def _pin_and_stage(data: dict) -> bytes:
    """Pin the derived keys and stage a new blind-index key (kept if one is already staged)."""
    current = Keys.from_keyring(data)
    data.setdefault("synthetic_nonce_key", base64.b64encode(current.nonce_key).decode())
    data.setdefault("tracing_key", base64.b64encode(current.tracing_key).decode())
    if not data.get("pending_blind_index_key"):
        data["pending_blind_index_key"] = base64.b64encode(secrets.token_bytes(32)).decode()
    return base64.b64decode(data["pending_blind_index_key"])


def _rebuild(new: Keys) -> dict[str, int]:
    """Every blind index column recomputed under ``new`` (one transaction). Rows are read in primary
    key order, CHUNK at a time (stored values opened with the bulk opener, no ORM objects); the new
    indexes go into a temporary table, then one UPDATE … FROM per model (SQLite and PostgreSQL)."""
    qn = connection.ops.quote_name
    counts: dict[str, int] = {}
    with transaction.atomic():
        states = [(before(), after) for before, after in _REBUILD_HOOKS]
        for model, fields in indexed_models():
            table, pk = qn(model._meta.db_table), qn(model._meta.pk.column)
            sources = list(dict.fromkeys(f.source for f in fields))
            src_fields = [model._meta.get_field(name) for name in sources]
            openers = [new.opener(f.ad) if isinstance(f, EncryptedTextField) else None for f in src_fields]
            indexers = [(sources.index(f.source), new.blind_indexer(f.kind)) for f in fields]
            cols = ", ".join(qn(f.column) for f in src_fields)
            n, last = 0, None
            with connection.cursor() as cur:
                cur.execute("DROP TABLE IF EXISTS custos_reindex")
                cur.execute(
                    "CREATE TEMPORARY TABLE custos_reindex (pk BIGINT PRIMARY KEY, "
                    + ", ".join(f"c{i} VARCHAR(32)" for i in range(len(fields)))
                    + ")"
                )
                while True:
                    where = "" if last is None else f" WHERE {pk} > %s"
                    cur.execute(
                        f"SELECT {pk}, {cols} FROM {table}{where} ORDER BY {pk} LIMIT {CHUNK}",
                        [] if last is None else [last],
                    )
                    rows = cur.fetchall()
                    if not rows:
                        break
                    out = []
                    for row in rows:
                        plain = [
                            op(v) if op and v else (v or "") for op, v in zip(openers, row[1:], strict=True)
                        ]
                        out.append([row[0], *(ix(plain[at]) for at, ix in indexers)])
                    cur.executemany(
                        f"INSERT INTO custos_reindex VALUES ({', '.join(['%s'] * (len(fields) + 1))})", out
                    )
                    n += len(rows)
                    last = rows[-1][0]
                sets = ", ".join(f"{qn(f.column)} = r.c{i}" for i, f in enumerate(fields))
                cur.execute(f"UPDATE {table} SET {sets} FROM custos_reindex r WHERE {table}.{pk} = r.pk")
                cur.execute("DROP TABLE custos_reindex")
            counts[model._meta.label] = n
        for state, after in states:
            after(state)
    return counts


def state(data: dict | None = None) -> dict:
    """For the key status page and `custos security check`: ``pending`` (a replacement was
    interrupted), ``replaced_at`` (when the current key was made current by a replacement)."""
    data = keyring.read() if data is None else data
    return {
        "pending": bool(data.get("pending_blind_index_key")),
        "replaced_at": data.get("blind_index_key_created_at"),
    }


def replace() -> dict[str, int]:
    """Replace the blind-index key and rebuild every index; returns rows rebuilt per model."""
    with keyring.editing() as data:
        new_key = _pin_and_stage(data)
        staged = Keys.from_keyring(data)  # the pinned keys, the current blind-index key
    counts = _rebuild(dataclasses.replace(staged, blind_key=new_key))
    with keyring.editing() as data:
        if data.get("pending_blind_index_key"):
            data["blind_index_key"] = data.pop("pending_blind_index_key")
            data["blind_index_key_created_at"] = keyring.now()
    keys(reload=True)
    return counts
