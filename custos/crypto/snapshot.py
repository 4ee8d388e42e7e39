"""Encrypted snapshots for the bulk engines: one API for every writer and reader.

A snapshot directory holds one Parquet file per table, encrypted with Parquet modular encryption
(AES-GCM, footer and columns) as DuckDB writes it, plus `ENCRYPTION.json` naming the data key the
snapshot key was derived from: snapshot key = HMAC-SHA256(data key, "custos snapshot"). Only DuckDB
reads the files (`source()` gives the SQL); other readers (Spark, pyarrow) go through `read_arrow()`.
A directory without `ENCRYPTION.json` is a plain snapshot (written by hand or by older versions) and
is read as such.

Writing an encrypted Parquet file needs DuckDB's full crypto module, which the offline
`duckdb-ext-httpfs` wheel provides (`LOAD httpfs`); reading does not.
"""

from __future__ import annotations

import base64
import hmac
import json
from pathlib import Path

import duckdb
import pyarrow as pa

from custos.crypto.fields import keys

MARKER = "ENCRYPTION.json"
SCHEME = "parquet-modular-encryption (DuckDB), AES-GCM"
WRITER_MEMORY = "512MB"


# Rows of a table grouped by these columns first (every writer: the loader, the CSV and benchmark
# snapshots). Nearly every cross-record check reads the parties of one role; with the parties
# grouped by role, DuckDB's zone maps skip the row groups of the other roles (the check engine's run
# over the 1 M-policy book 0.3 s faster, 2026-11-26). Any order is still read correctly.
CLUSTER_BY = {"parties": ("role",)}


def cluster_by(table: str) -> tuple[str, ...]:
    """The columns ``table``'s rows are grouped by in a snapshot (before its own order)."""
    return CLUSTER_BY.get(table, ())


def cluster_clause(table: str) -> str:
    """`` ORDER BY <cluster_by(table)>`` for a writer's query, or '' when the table has none."""
    cluster = cluster_by(table)
    return f" ORDER BY {', '.join(cluster)}" if cluster else ""


def _sql_text(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _key(kid: str) -> str:
    k = keys()
    if kid not in k.data_keys:
        k = keys(reload=True)
    if kid not in k.data_keys:
        raise LookupError(f"snapshot key {kid} is not in the keyring (retired?): load the book again")
    return base64.b64encode(hmac.digest(k.data_keys[kid], b"custos snapshot", "sha256")).decode()


def key_id(snapshot_dir: Path) -> str | None:
    try:
        return json.loads((Path(snapshot_dir) / MARKER).read_text())["key_id"]
    except FileNotFoundError:
        return None


def add_key(con: duckdb.DuckDBPyConnection, snapshot_dir: Path) -> str | None:
    """Give a DuckDB connection the key of a snapshot; returns the key's name (None: plain)."""
    kid = key_id(snapshot_dir)
    if kid is None:
        return None
    name = f"custos_snap_{kid}"
    con.execute(f"PRAGMA add_parquet_key({_sql_text(name)}, {_sql_text(_key(kid))})")
    return name


def source(con: duckdb.DuckDBPyConnection, snapshot_dir: Path, name: str) -> str:
    """SQL table expression reading `<name>.parquet` of a snapshot (its key added to `con`)."""
    path = Path(snapshot_dir) / f"{name}.parquet"
    key = add_key(con, snapshot_dir)
    if key is None:
        return f"read_parquet({_sql_text(str(path))})"
    return f"read_parquet({_sql_text(str(path))}, encryption_config = {{footer_key: {_sql_text(key)}}})"


def offline_connect(*, allow_unsigned_extensions: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection that never downloads or auto-loads an extension (custos runs offline; the
    extensions it needs come from the pinned wheels, loaded by path). ``allow_unsigned_extensions``:
    for the check engine, which loads custos's own compiled extension (custos.checks.native)."""
    config = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    if allow_unsigned_extensions:
        config["allow_unsigned_extensions"] = True
    return duckdb.connect(config=config)


def read_arrow(snapshot_dir: Path, name: str, columns: list[str] | None = None) -> pa.Table:
    con = offline_connect()
    try:
        if key_id(snapshot_dir) is not None:
            load_full_crypto(con)
        cols = ", ".join(f'"{c}"' for c in columns) if columns else "*"
        return con.execute(f"SELECT {cols} FROM {source(con, snapshot_dir, name)}").fetch_arrow_table()
    finally:
        con.close()


def load_full_crypto(con: duckdb.DuckDBPyConnection) -> bool:
    """Load httpfs from the offline wheel: DuckDB's full crypto module (OpenSSL, AES-NI). Writing
    encrypted Parquet needs it; reading does not, but without it DuckDB decrypts with its built-in
    read-only module, which made reading the 1 M-policy book's parties cost 2.9 CPU s instead of
    2.1 (the same as an unencrypted file; 2026-11-26). False when the wheel is missing."""
    from custos.core.duckdb_ext import extension_file

    ext = extension_file("httpfs")
    if ext is None:
        return False
    con.execute(f"INSTALL {_sql_text(str(ext))}")
    con.execute("LOAD httpfs")
    return True


def writer_connection() -> duckdb.DuckDBPyConnection:
    """A DuckDB connection that can write encrypted Parquet (httpfs loaded from the offline wheel)."""
    con = offline_connect()
    if not load_full_crypto(con):
        con.close()
        raise RuntimeError("duckdb-ext-httpfs is not installed: encrypted snapshots cannot be written")
    con.execute(f"SET memory_limit = '{WRITER_MEMORY}'")  # the Parquet writer's buffers stay bounded
    return con


def begin(snapshot_dir: Path, con: duckdb.DuckDBPyConnection) -> str:
    """Mark a (new, empty) snapshot directory as encrypted under the primary data key; the key is
    added to `con`. Returns the key name for `copy_options`."""
    kid = keys().current_id
    Path(snapshot_dir).mkdir(parents=True, exist_ok=True)
    (Path(snapshot_dir) / MARKER).write_text(json.dumps({"key_id": kid, "scheme": SCHEME}))
    return add_key(con, snapshot_dir)


def copy_options(key: str, extra: str = "") -> str:
    """The COPY … TO options writing an encrypted Parquet file. LZ4 (raw) rather than zstd: the check
    engine's run over the 1 M-policy book took 0.3–0.7 CPU s less (parties 144 MB instead of 92;
    measured interleaved, 2026-11-26 — with the full crypto module loaded decryption is no longer
    what a larger file costs)."""
    more = f", {extra}" if extra else ""
    return f"(FORMAT parquet, COMPRESSION lz4_raw{more}, ENCRYPTION_CONFIG {{footer_key: {_sql_text(key)}}})"


def write_arrow(con: duckdb.DuckDBPyConnection, key: str, data, path: Path, order: str = "") -> None:
    """Write an Arrow table or RecordBatchReader as one encrypted Parquet file; ``order``: an
    ``ORDER BY`` clause for its rows (``cluster_clause``)."""
    view = "custos_snapshot_write"
    con.register(view, data)
    try:
        con.execute(f"COPY (SELECT * FROM {view}{order}) TO {_sql_text(str(path))} {copy_options(key)}")
    finally:
        con.unregister(view)


def write_table(snapshot_dir: Path, name: str, table: pa.Table) -> None:
    """Write one table into a snapshot directory (begun here if it is new)."""
    con = writer_connection()
    try:
        snapshot_dir = Path(snapshot_dir)
        kid = key_id(snapshot_dir)
        key = add_key(con, snapshot_dir) if kid else begin(snapshot_dir, con)
        write_arrow(con, key, table, snapshot_dir / f"{name}.parquet", cluster_clause(name))
    finally:
        con.close()
