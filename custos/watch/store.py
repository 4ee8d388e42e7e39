"""The access history: Parquet partitioned by day (hive layout, ``day=YYYY-MM-DD``) under
CUSTOS_HOME/watch/history, encrypted at rest with the snapshot's mechanism and keys
(`custos.crypto.snapshot`: Parquet modular encryption, key derived from the data key that
``ENCRYPTION.json`` at the history's root names), read with DuckDB.

Each ingest writes one new file per day it touches (``part-<source>.parquet``) and never rewrites an
old one, so a year of reads is a few thousand files that DuckDB (or Spark, through ``read_arrow``)
scans with partition pruning on ``day``.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from pathlib import Path

import duckdb
import pyarrow as pa

from custos.crypto import snapshot
from custos.watch import conf

SCHEMA = pa.schema(
    [
        ("row_key", pa.string()),  # de-duplication key (docs/watch.md)
        ("at", pa.timestamp("us", tz="UTC")),
        ("at_local", pa.timestamp("us")),  # wall time in conf "timezone"
        ("system", pa.string()),
        ("staff_no", pa.string()),
        ("partner_code", pa.string()),
        ("action", pa.string()),
        ("policy_no", pa.string()),
        ("query", pa.string()),
        ("rows", pa.int64()),
        ("terminal", pa.string()),
        ("known", pa.bool_()),  # the operator is in the book's staff or partner users
        ("source", pa.string()),  # the ingested file's digest (first 16 hex) or "audit-<seq>"
    ]
)


def root() -> Path:
    return conf.history_dir()


def days() -> list[dt.date]:
    r = root()
    if not r.exists():
        return []
    out = []
    for p in r.iterdir():
        if p.is_dir() and p.name.startswith("day=") and any(p.glob("*.parquet")):
            out.append(dt.date.fromisoformat(p.name[4:]))
    return sorted(out)


def connect() -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the full crypto module (faster decryption) loaded when available."""
    con = snapshot.offline_connect()
    snapshot.load_full_crypto(con)
    return con


def source(
    con: duckdb.DuckDBPyConnection, day_from: dt.date | None = None, day_to: dt.date | None = None
) -> str:
    """SQL table expression of the history (all days, or the day files of [day_from, day_to]);
    an empty history is an empty table of the same columns."""
    r = root()
    files = []
    for d in days():
        if (day_from and d < day_from) or (day_to and d > day_to):
            continue
        files.extend(sorted(str(p) for p in (r / f"day={d.isoformat()}").glob("*.parquet")))
    if not files:
        cols = ", ".join(f"NULL::{_duck(f.type)} AS {f.name}" for f in SCHEMA) + ", NULL::DATE AS day"
        return f"(SELECT {cols} WHERE false)"
    key = snapshot.add_key(con, r)
    listing = "[" + ", ".join(_text(f) for f in files) + "]"
    enc = f", encryption_config = {{footer_key: {_text(key)}}}" if key else ""
    return f"read_parquet({listing}, hive_partitioning = true, hive_types = {{'day': DATE}}{enc})"


def _duck(t: pa.DataType) -> str:
    if pa.types.is_timestamp(t):
        return "TIMESTAMPTZ" if t.tz else "TIMESTAMP"
    return {"string": "VARCHAR", "int64": "BIGINT", "bool": "BOOLEAN"}[str(t)]


def _text(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def existing_keys(con: duckdb.DuckDBPyConnection, day_list: list[dt.date]) -> set[str]:
    """The row keys already stored on these days."""
    if not day_list:
        return set()
    lo, hi = min(day_list), max(day_list)
    src = source(con, lo, hi)
    return {r[0] for r in con.execute(f"SELECT row_key FROM {src}").fetchall()}


class Staged:
    """New day files written beside the history, moved in by `commit()` or removed by `discard()`:
    a failure between files leaves the history as it was."""

    def __init__(self) -> None:
        self.dir = root().parent / f".staging-{uuid.uuid4().hex}"
        self.moves: list[tuple[Path, Path]] = []
        self.committed: list[Path] = []
        self._con: duckdb.DuckDBPyConnection | None = None
        self._key = ""

    def write(self, tables_by_day: dict[dt.date, pa.Table], part: str) -> None:
        if not tables_by_day:
            return
        r = root()
        r.mkdir(parents=True, exist_ok=True)
        if self._con is None:
            self._con = snapshot.writer_connection()
            self._key = snapshot.add_key(self._con, r) if snapshot.key_id(r) else snapshot.begin(r, self._con)
        for day, table in sorted(tables_by_day.items()):
            target = r / f"day={day.isoformat()}" / f"part-{part}.parquet"
            staged = self.dir / f"day={day.isoformat()}" / f"part-{part}.parquet"
            staged.parent.mkdir(parents=True, exist_ok=True)
            snapshot.write_arrow(self._con, self._key, table, staged, ' ORDER BY staff_no, "at"')
            self.moves.append((staged, target))

    def _close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def commit(self) -> None:
        self._close()
        for staged, target in self.moves:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, target)
            self.committed.append(target)
        shutil.rmtree(self.dir, ignore_errors=True)

    def discard(self) -> None:
        """Undo: staged files and any already moved in."""
        self._close()
        for target in self.committed:
            target.unlink(missing_ok=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def read_arrow(sql_select: str) -> pa.Table:
    """Run a SELECT over ``{history}`` (the placeholder is replaced by the history's source)."""
    con = connect()
    try:
        return con.execute(sql_select.format(history=source(con))).fetch_arrow_table()
    finally:
        con.close()
