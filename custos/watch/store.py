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


_ROOT: list[Path] = []  # use_root(): a benchmark's or test's own history


def root() -> Path:
    return _ROOT[-1] if _ROOT else conf.history_dir()


class use_root:
    """Within ``with use_root(path):`` the history lives at ``path`` (the ingest benchmark)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def __enter__(self) -> Path:
        _ROOT.append(self.path)
        return self.path

    def __exit__(self, *exc) -> None:
        _ROOT.pop()


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
    """A DuckDB connection with the full crypto module (faster decryption, and encrypted writes)
    loaded when available; times in UTC whatever the machine's zone."""
    con = snapshot.offline_connect()
    snapshot.load_full_crypto(con)
    con.execute("SET TimeZone = 'UTC'")
    return con


def day_files(r: Path, d: dt.date) -> list[str]:
    return sorted(str(p) for p in (r / f"day={d.isoformat()}").glob("*.parquet"))


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
        files.extend(day_files(r, d))
    return files_source(con, r, files)


def files_source(con: duckdb.DuckDBPyConnection, r: Path, files: list[str]) -> str:
    """SQL table expression of the given day files of the history at ``r`` (their key added to con):
    the columns of SCHEMA and ``day``, whatever older files also hold (a ``row_key`` before 2026-12)."""
    if not files:
        cols = ", ".join(f"NULL::{_duck(f.type)} AS {f.name}" for f in SCHEMA) + ", NULL::DATE AS day"
        return f"(SELECT {cols} WHERE false)"
    key = snapshot.add_key(con, r)
    listing = "[" + ", ".join(_text(f) for f in files) + "]"
    enc = f", encryption_config = {{footer_key: {_text(key)}}}" if key else ""
    cols = ", ".join(f'"{f.name}"' for f in SCHEMA)
    return (
        f"(SELECT {cols}, day FROM read_parquet({listing}, hive_partitioning = true,"
        f" hive_types = {{'day': DATE}}, union_by_name = true{enc}))"
    )


def _duck(t: pa.DataType) -> str:
    if pa.types.is_timestamp(t):
        return "TIMESTAMPTZ" if t.tz else "TIMESTAMP"
    return {"string": "VARCHAR", "int64": "BIGINT", "bool": "BOOLEAN"}[str(t)]


def _text(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


class Staged:
    """New day files written beside the history, moved in by `commit()` or removed by `discard()`:
    a failure between files leaves the history as it was.

    `copy()` writes the rows of a SELECT (with a ``day`` column) as one encrypted Parquet file per
    day — DuckDB's partitioned COPY, no Python per row; `write()` does the same for Arrow tables."""

    def __init__(self, r: Path | None = None) -> None:
        self.root = Path(r) if r is not None else root()
        self.dir = self.root.parent / f".staging-{uuid.uuid4().hex}"
        self.moves: list[tuple[Path, Path]] = []
        self.committed: list[Path] = []
        self.by_day: dict[dt.date, list[str]] = {}  # staged files per day (the ingest's own overlap)
        self._own: duckdb.DuckDBPyConnection | None = None

    def _key(self, con: duckdb.DuckDBPyConnection) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        if snapshot.key_id(self.root):
            return snapshot.add_key(con, self.root)
        return snapshot.begin(self.root, con)

    def copy(self, con: duckdb.DuckDBPyConnection, select_sql: str, part: str) -> int:
        """Write the rows of ``select_sql`` (the columns of SCHEMA and ``day``) as day files; returns
        the number of rows written."""
        key = self._key(con)
        out = self.dir / part
        self.dir.mkdir(parents=True, exist_ok=True)
        cols = ", ".join(f'"{f.name}"' for f in SCHEMA)
        opts = snapshot.copy_options(key, "PARTITION_BY (day), FILENAME_PATTERN " + _text(part + "_{i}"))
        written = con.execute(
            f"COPY (SELECT {cols}, day FROM ({select_sql})) TO {_text(str(out))} {opts}"
        ).fetchone()
        for f in sorted(out.glob("day=*/*.parquet")):
            day = dt.date.fromisoformat(f.parent.name[4:])
            i = f.stem.rsplit("_", 1)[1]
            name = f"part-{part}.parquet" if i == "0" else f"part-{part}-{i}.parquet"
            self.moves.append((f, self.root / f.parent.name / name))
            self.by_day.setdefault(day, []).append(str(f))
        return int(written[0]) if written else 0

    def write(self, tables_by_day: dict[dt.date, pa.Table], part: str) -> None:
        if not tables_by_day:
            return
        if self._own is None:
            self._own = connect()
        table = pa.concat_tables(
            t.append_column("day", pa.array([d] * t.num_rows, pa.date32())) for d, t in tables_by_day.items()
        )
        self._own.register("staged_arrow", table)
        try:
            self.copy(self._own, 'SELECT * FROM staged_arrow ORDER BY staff_no, "at"', part)
        finally:
            self._own.unregister("staged_arrow")

    def _close(self) -> None:
        if self._own is not None:
            self._own.close()
            self._own = None

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
