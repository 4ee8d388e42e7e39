"""Data-key rotation: `custos keys rotate` makes a new data key primary, then `reencrypt()` re-seals
every encrypted value still under an older key (or, after an upgrade, still in clear) in small
batches, each its own transaction, while the application serves. Reads keep working throughout:
every key stays in the keyring until no value uses it, then it is retired (removed).

Progress is written to CUSTOS_HOME/rotation.json (shown by `custos keys status` and the key status
page). A batch updates a row only if the value is still the one it read, so a concurrent write by
the app or the loader (already under the new key) is never overwritten.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from django.db import connection, transaction

from custos import paths
from custos.crypto import keyring, registry
from custos.crypto.fields import PREFIX, EncryptedTextField, keys
from custos.crypto.registry import Column

BATCH = 2000


def columns() -> list[Column]:
    """Every encrypted column: each EncryptedTextField of an installed model, and the columns the apps
    seal by hand (custos.crypto.registry)."""
    from django.apps import apps

    out = []
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        for f in model._meta.concrete_fields:
            if isinstance(f, EncryptedTextField):
                out.append(Column(model._meta.db_table, f.column, f.ad, f.deterministic))
    return out + registry.extra_columns()


def status_path() -> Path:
    return paths.home() / "rotation.json"


def read_status() -> dict:
    try:
        return json.loads(status_path().read_text())
    except (FileNotFoundError, ValueError):
        return {}


def _write_status(data: dict) -> None:
    p = status_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, p)


class RotationInProgress(RuntimeError):
    """A rotation is still queued or running: a second one would start before the first re-sealed."""


def rotate() -> str:
    """Add a data key and make it primary; returns its id. Re-encryption is `reencrypt()`.
    Refused (RotationInProgress) while the previous rotation is still queued or running."""
    status = read_status()
    if status.get("state") in ("queued", "running"):
        raise RotationInProgress(
            f"the rotation to key {status.get('target')} is still {status['state']}: wait for it, "
            "or finish an interrupted one with `custos keys reencrypt`"
        )
    with keyring.editing() as data:
        keyring.ensure_data_keys(data)
        entry = keyring.new_data_key()
        data["data_keys"].append(entry)
        data.pop("primary_data_key", None)  # the newest is primary
    keys(reload=True)
    _write_status(
        {"target": entry["id"], "started_at": keyring.now(), "state": "queued", "done": 0, "resealed": 0}
    )
    return entry["id"]


def counts_by_key() -> dict[str, int]:
    """How many stored values each key id seals ("clear" for values not sealed yet)."""
    qn = connection.ops.quote_name
    out: dict[str, int] = {}
    n = len(PREFIX)
    with connection.cursor() as cur:
        for c in columns():
            col = qn(c.column)
            where = f"{col} IS NOT NULL AND {col} <> ''"
            if c.ad_from:
                where += f" AND {qn(c.ad_from)} IN ({', '.join(['%s'] * len(c.only))})"
            cur.execute(
                f"SELECT CASE WHEN substr({col}, 1, {n}) = %s THEN substr({col}, {n + 1}, 8) ELSE 'clear' END, "
                f"COUNT(*) FROM {qn(c.db_table)} WHERE {where} GROUP BY 1",
                [PREFIX, *c.only],
            )
            for kid, count in cur.fetchall():
                out[kid] = out.get(kid, 0) + count
    return out


def _reseal_column(c: Column, progress) -> tuple[int, int]:
    """Re-seal one column's values not under the primary key. Returns (rows read, rows resealed)."""
    qn = connection.ops.quote_name
    k = keys()
    head = f"{PREFIX}{k.current_id}:"
    t, col = qn(c.db_table), qn(c.column)
    extra = f", {qn(c.ad_from)}" if c.ad_from else ""
    last, read, resealed = 0, 0, 0
    while True:
        with transaction.atomic():
            with connection.cursor() as cur:
                cur.execute(
                    f"SELECT id, {col}{extra} FROM {t} WHERE id > %s AND {col} IS NOT NULL AND {col} <> '' "
                    f"ORDER BY id LIMIT {BATCH}",
                    [last],
                )
                rows = cur.fetchall()
                if not rows:
                    return read, resealed
                last = rows[-1][0]
                read += len(rows)
                updates = []
                for row in rows:
                    id_, stored = row[0], row[1]
                    if stored.startswith(head):
                        continue
                    if c.ad_from:
                        if row[2] not in c.only:
                            continue
                        ad = c.ad.format(row[2])
                    else:
                        ad = c.ad
                    if stored.startswith(PREFIX):
                        try:
                            value = k.open_(stored, ad)
                        except LookupError:
                            k = keys(reload=True)
                            value = k.open_(stored, ad)
                    else:
                        value = stored  # in clear (written before encryption at rest)
                    updates.append((k.seal(value, ad, deterministic=c.deterministic), id_, stored))
                if updates:
                    cur.executemany(f"UPDATE {t} SET {col} = %s WHERE id = %s AND {col} = %s", updates)
                    resealed += len(updates)
        progress(len(rows), len(updates))


def reencrypt() -> dict:
    """Re-seal everything under the primary key, then retire keys no value uses any more."""
    status = read_status()
    status.update(state="running", resumed_at=keyring.now())
    _write_status(status)
    total = {"done": status.get("done", 0), "resealed": status.get("resealed", 0)}
    cols = columns()

    def progress(read: int, resealed: int) -> None:
        total["done"] += read
        total["resealed"] += resealed
        status.update(total)
        _write_status(status)

    for i, c in enumerate(cols):
        status["column"] = f"{c.db_table}.{c.column} ({i + 1}/{len(cols)})"
        _write_status(status)
        _reseal_column(c, progress)
    files = registry.reseal_files()
    status["sealed_files"] = files
    status["evidence_files"] = files.get("evidence", 0)
    status["retired"] = retire_unused()
    status.update(state="done", finished_at=keyring.now(), column="")
    _write_status(status)
    return status


def retire_unused() -> list[str]:
    """Remove from the keyring every non-primary data key that no stored value uses."""
    used = set(counts_by_key()) | registry.keys_in_use_outside_tables()
    k = keys(reload=True)
    retired = []
    with keyring.editing() as data:
        kept = []
        for e in data.get("data_keys") or []:
            if e["id"] != k.current_id and e["id"] not in used:
                retired.append(e["id"])
                data.setdefault("retired_data_keys", []).append({"id": e["id"], "retired_at": keyring.now()})
            else:
                kept.append(e)
        data["data_keys"] = kept
    keys(reload=True)
    return retired


def seal_clear_rows(conn, db_table: str, cols: list[str], *, deterministic: bool = True) -> int:
    """For data migrations: seal the values of `cols` still in clear (written before encryption at
    rest), associated data "<db_table>.<column>". Needs no keys when the table is empty."""
    qn = conn.ops.quote_name
    with conn.cursor() as cur:
        cur.execute(f"SELECT 1 FROM {qn(db_table)} LIMIT 1")
        if cur.fetchone() is None:
            return 0
        k = keys()
        cur.execute(f"SELECT id, {', '.join(qn(c) for c in cols)} FROM {qn(db_table)}")
        updates = []
        for row in cur.fetchall():
            vals = [
                k.seal(v, f"{db_table}.{c}", deterministic=deterministic)
                if v and not v.startswith(PREFIX)
                else v
                for c, v in zip(cols, row[1:], strict=True)
            ]
            updates.append((*vals, row[0]))
        sets = ", ".join(f"{qn(c)} = %s" for c in cols)
        cur.executemany(f"UPDATE {qn(db_table)} SET {sets} WHERE id = %s", updates)
        return len(updates)
