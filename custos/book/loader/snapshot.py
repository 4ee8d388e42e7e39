"""Columnar snapshot of the current book for the bulk engines (DuckDB, Spark).

`CUSTOS_HOME/snapshots/load-<id>/<table>.parquet`, one file per table of the format, holding the
rows not gone (gone_load is null), with exactly the book-format column names:

- text -> string, the empty string stored as null
- date -> date32
- timestamp -> timestamp[us, tz=Asia/Shanghai] (UTC instants; the zone is display metadata)
- int -> int64
- decimal -> float64 (yuan)

The database is read by DuckDB (the offline sqlite/postgres scanner extensions of the
`duckdb-ext-sqlite` / `duckdb-ext-postgres` wheels) as Arrow record batches into a ParquetWriter:
no Python object per value. The scanner reads committed data through its own connection, so it is
used only when the book is committed and reachable (a file database, not inside an open
transaction, the extension present); otherwise, in batches so memory stays bounded: on SQLite
fetchmany -> RecordBatch -> ParquetWriter; on PostgreSQL COPY … TO STDOUT (CSV) into a temporary
file, read back with Arrow's streaming CSV reader. The directory is written under a temporary name and renamed when complete.

The book stores personal values sealed (custos.crypto.fields): every path opens them batch by batch
(`write_batches`) and writes each table as an encrypted Parquet file through
`custos.crypto.snapshot` (Parquet modular encryption, key derived from the primary data key); readers
use that module too.
"""

import contextlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
from django.db import connection, transaction

from custos import paths
from custos.book.models import MODELS
from custos.crypto import snapshot as esnap
from custos.domain.bookformat import SNAPSHOT_TABLES, TABLES, Table

from . import snapshot_child
from .snapshot_write import (
    ARROW_TYPES,
    BATCH,
    daemonic,
    duckdb_attach,
    opening_helper,
    schema,
    write_batches,
    write_with_duckdb,
)

__all__ = ["ARROW_TYPES", "duckdb_attach", "schema", "write_snapshot", "write_with_duckdb"]


def write_snapshot(load_id: int, progress: Callable[[float, str], None] | None = None) -> Path:
    root = paths.snapshots_dir()
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"load-{load_id}"
    tmp = root / f".load-{load_id}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        attach = duckdb_attach()
        if attach is not None and connection.vendor == "sqlite" and daemonic():
            attach = None  # a daemonic process may not have the child the scanner needs: read via Django
        if attach is not None and connection.vendor == "sqlite":
            _write_with_duckdb_in_child(attach, tmp, progress)
        elif attach is not None:
            with opening_helper():
                write_with_duckdb(attach, tmp, progress)
        else:
            # server-side cursors on PostgreSQL live in a transaction; on SQLite a transaction would
            # hold the progress updates' lock on the load row for the whole snapshot
            pg = connection.vendor == "postgresql"
            with opening_helper(), transaction.atomic() if pg else contextlib.nullcontext():
                for i, name in enumerate(SNAPSHOT_TABLES):
                    if progress:
                        progress(i / len(SNAPSHOT_TABLES), f"snapshot: {name}")
                    _write_table(TABLES[name], tmp / f"{name}.parquet")
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _select(table: Table) -> str:
    qn = connection.ops.quote_name
    pg = connection.vendor == "postgresql"
    exprs = []
    for c in table.columns:
        col = qn(c.name)
        if c.type == "text":
            exprs.append(f"NULLIF({col}, '')")
        elif c.type == "decimal":
            exprs.append(f"CAST({col} AS DOUBLE PRECISION)" if pg else f"CAST({col} AS REAL)")
        elif c.type in ("date", "timestamp") and not pg:
            exprs.append(f"CAST({col} AS TEXT)")  # skip the per-value converters; arrow parses
        else:
            exprs.append(col)
    db_table = qn(MODELS[table.name]._meta.db_table)
    return f"SELECT {', '.join(exprs)} FROM {db_table} WHERE gone_load_id IS NULL ORDER BY {_order(table)}"


def _order(table: Table) -> str:
    """id order, grouped first by ``esnap.cluster_by`` (parties by role)."""
    return ", ".join([*(connection.ops.quote_name(c) for c in esnap.cluster_by(table.name)), "id"])


def _arrays(table: Table, rows: list[tuple]) -> list[pa.Array]:
    pg = connection.vendor == "postgresql"
    out = []
    for i, c in enumerate(table.columns):
        values = [r[i] for r in rows]
        t = ARROW_TYPES[c.type]
        if pg or c.type not in ("date", "timestamp"):
            out.append(pa.array(values, type=t))
        elif c.type == "date":
            out.append(pa.array(values, type=pa.string()).cast(pa.date32()))
        else:  # SQLite: naive UTC text
            naive = pa.array(values, type=pa.string()).cast(pa.timestamp("us"))
            out.append(naive.cast(pa.timestamp("us", tz="UTC")).cast(t))
    return out


def _write_table_pg(table: Table, path: Path) -> int:
    """PostgreSQL: COPY the rows out as CSV into a temporary file, parse it with Arrow's CSV reader
    (C++, streaming) and write Parquet: several times faster than fetching Python tuples."""
    import tempfile

    import pyarrow.csv as pacsv

    qn = connection.ops.quote_name
    exprs = []
    for c in table.columns:
        col = qn(c.name)
        exprs.append(
            {
                "text": f"NULLIF({col}, '')",
                "decimal": f"CAST({col} AS DOUBLE PRECISION)",
                "timestamp": f"to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')",
            }.get(c.type, col)
        )
    db_table = qn(MODELS[table.name]._meta.db_table)
    sql = f"SELECT {', '.join(exprs)} FROM {db_table} WHERE gone_load_id IS NULL ORDER BY {_order(table)}"
    read_types = {
        c.name: (pa.timestamp("us") if c.type == "timestamp" else ARROW_TYPES[c.type]) for c in table.columns
    }
    with tempfile.NamedTemporaryFile(prefix="custos-snap-", suffix=".csv") as tmp:
        with (
            connection.connection.cursor() as cur,
            cur.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as cp,
        ):
            for data in cp:
                tmp.write(data)
        tmp.flush()
        if tmp.tell() == 0:
            return write_batches(table, [], path)
        reader = pacsv.open_csv(
            tmp.name,
            read_options=pacsv.ReadOptions(column_names=list(table.column_names), block_size=16 << 20),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types=read_types,
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
        return write_batches(table, reader, path)


def _write_table(table: Table, path: Path) -> int:
    if connection.vendor == "postgresql":
        return _write_table_pg(table, path)
    sch = schema(table)

    def batches():
        cur = connection.cursor()
        try:
            cur.execute(_select(table))
            while rows := cur.fetchmany(BATCH):
                yield pa.RecordBatch.from_arrays(_arrays(table, rows), schema=sch)
        finally:
            cur.close()

    return write_batches(table, batches(), path)


def _write_with_duckdb_in_child(attach: str, out: Path, progress=None) -> dict[str, int]:
    """DuckDB's SQLite scanner in a spawned child process, never in this one.

    The scanner bundles its own copy of SQLite. Two SQLite libraries on one database file in one
    process do not see each other's POSIX locks (locks are per process), so the scanner's connection
    believes it is the only one, re-initialises the WAL index (truncates the -shm file) that this
    process's own connections have mapped, and their next access dies with SIGBUS (seen once in a
    20,000-policy demo: a bus error some steps after the load). In a child process the locks work."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    if progress:
        progress(0.0, "snapshot")
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(snapshot_child.write, attach, str(out)).result()
