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

from django.apps import apps
from django.db import connection, transaction

from custos.crypto import keyring
from custos.crypto.fields import BlindIndexField, Keys, keys

CHUNK = 5000


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
    """Every blind index column recomputed under ``new`` (one transaction)."""
    counts: dict[str, int] = {}
    with transaction.atomic():
        for model, fields in indexed_models():
            table = connection.ops.quote_name(model._meta.db_table)
            pk = model._meta.pk
            sets = ", ".join(f"{connection.ops.quote_name(f.column)} = %s" for f in fields)
            sql = f"UPDATE {table} SET {sets} WHERE {connection.ops.quote_name(pk.column)} = %s"
            sources = [f.source for f in fields]
            n = 0
            rows = model._base_manager.order_by().values_list(pk.attname, *dict.fromkeys(sources))
            names = list(dict.fromkeys(sources))
            batch = []
            for row in rows.iterator(chunk_size=CHUNK):
                values = dict(zip(names, row[1:], strict=True))
                batch.append([*(new.blind_index(values[f.source], f.kind) for f in fields), row[0]])
                if len(batch) >= CHUNK:
                    with connection.cursor() as cur:
                        cur.executemany(sql, batch)
                    n += len(batch)
                    batch = []
            if batch:
                with connection.cursor() as cur:
                    cur.executemany(sql, batch)
                n += len(batch)
            counts[model._meta.label] = n
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
    staged = Keys.from_keyring(keyring.read())
    counts = _rebuild(dataclasses.replace(staged, blind_key=new_key))
    with keyring.editing() as data:
        if data.get("pending_blind_index_key"):
            data["blind_index_key"] = data.pop("pending_blind_index_key")
            data["blind_index_key_created_at"] = keyring.now()
    keys(reload=True)
    return counts
