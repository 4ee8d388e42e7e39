"""Writing the snapshot's files: batches of a table, sealed values opened on the way (half in a
helper process for large batches), one encrypted Parquet file per table (custos.crypto.snapshot);
and the DuckDB scanner path that reads the committed book through the offline sqlite/postgres
extensions. Used by custos.book.loader.snapshot (the Django paths, the orchestration) and by the
scanner's child process (custos.book.loader.snapshot_child), so neither imports the other's caller.
"""

import contextlib
import logging
import os
import queue
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
from django.db import connection

from custos.book.models import MODELS
from custos.core.duckdb_ext import extension_file
from custos.crypto import parallel
from custos.crypto import snapshot as esnap
from custos.domain.bookformat import SNAPSHOT_TABLES, TABLES, Table

log = logging.getLogger(__name__)

BATCH = 50_000
DUCKDB_MEMORY = "512MB"
ARROW_TYPES = {
    "text": pa.string(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="Asia/Shanghai"),
    "int": pa.int64(),
    "decimal": pa.float64(),
}


def schema(table: Table) -> pa.Schema:
    return pa.schema([pa.field(c.name, ARROW_TYPES[c.type]) for c in table.columns])


@contextlib.contextmanager
def opening_helper():
    """The helper process of _open_columns (`_POOL`) while the block runs, shut down after it."""
    global _POOL
    _POOL = _opener_pool()
    try:
        yield
    finally:
        if _POOL is not None:
            _POOL.shutdown(cancel_futures=True)
            _POOL = None


# --- opening sealed values, shared with a second process --------------------------------------

PARALLEL_OPEN_FROM = 20_000  # sealed values in a batch from which half go to the helper process
_POOL = None  # a one-process pool while write_snapshot runs (on machines with 2+ CPUs)


def _opener_pool():
    """A spawned helper process that opens half of each large batch's sealed values (AES-GCM in
    Python is the snapshot's main cost). Spawned, not forked: DuckDB's threads may hold locks."""
    if (os.cpu_count() or 1) < 2 or os.environ.get("CUSTOS_SNAPSHOT_WORKERS") == "1":
        return None
    import base64
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    if daemonic():
        return None  # a daemonic worker process may not have children

    from custos.crypto.fields import keys

    k = keys()
    data = {
        "data_keys": [{"id": kid, "key": base64.b64encode(key).decode()} for kid, key in k.data_keys.items()],
        "blind_index_key": base64.b64encode(k.blind_key).decode(),
        "synthetic_nonce_key": base64.b64encode(k.nonce_key).decode(),
        "tracing_key": base64.b64encode(k.tracing_key).decode(),
        "primary_data_key": k.current_id,
    }
    return ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=parallel.init,
        initargs=(data,),
    )


def _open_columns(batch, openers: dict[int, tuple[str, Callable]]) -> dict[int, pa.Array]:
    """The opened sealed columns of a batch: half of each in the helper process, when there is one."""
    global _POOL
    cols = {i: batch.column(i).to_pylist() for i in openers}
    n = sum(len(v) for v in cols.values())
    if _POOL is None or n < PARALLEL_OPEN_FROM:
        return {i: pa.array(list(map(openers[i][1], v)), type=pa.string()) for i, v in cols.items()}
    from concurrent.futures.process import BrokenProcessPool

    try:
        futures = {
            i: _POOL.submit(parallel.open_list, openers[i][0], v[: len(v) // 2]) for i, v in cols.items()
        }
        local = {i: list(map(openers[i][1], v[len(v) // 2 :])) for i, v in cols.items()}
        return {i: pa.array(futures[i].result() + local[i], type=pa.string()) for i in cols}
    except BrokenProcessPool:  # the helper could not start (e.g. an unguarded __main__): open here
        log.warning("snapshot helper process failed; opening sealed values in this process")
        _POOL = None
        return {i: pa.array(list(map(openers[i][1], v)), type=pa.string()) for i, v in cols.items()}


def daemonic() -> bool:
    import multiprocessing

    return bool(multiprocessing.current_process().daemon)


def _openers(table: Table) -> dict[int, tuple[str, Callable]]:
    """Column position -> (associated data, opener), for the columns the book stores sealed."""
    from custos.crypto.fields import EncryptedTextField, keys

    model = MODELS[table.name]
    k = keys()
    sealed = {f.column: f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)}
    return {
        i: (sealed[c.name].ad, k.opener(sealed[c.name].ad))
        for i, c in enumerate(table.columns)
        if c.name in sealed
    }


OPEN_BATCH = 50_000  # rows opened at a time: Python lists of their values are the memory peak


def _rechunk(batches, size: int | None):
    for batch in batches:
        if size is None or batch.num_rows <= size:
            yield batch
            continue
        for start in range(0, batch.num_rows, size):
            yield batch.slice(start, size)


def write_batches(table: Table, batches, path: Path) -> int:
    """Normalise the batches to the snapshot schema, open the sealed columns and write them as one
    encrypted Parquet file (custos.crypto.snapshot)."""

    sch = schema(table)
    openers = _openers(table)
    n = 0

    def normalised():
        nonlocal n
        for batch in _rechunk(batches, OPEN_BATCH if openers else None):
            arrays = []
            opened = _open_columns(batch, openers) if openers else {}
            for i, f in enumerate(sch):
                a = batch.column(i)
                if i in opened:
                    a = opened[i]
                elif pa.types.is_timestamp(f.type):
                    if a.type.tz is None:
                        a = a.cast(pa.timestamp("us", tz="UTC"))
                    a = a.cast(f.type)
                elif a.type != f.type:
                    a = a.cast(f.type)
                arrays.append(a)
            n += batch.num_rows
            yield pa.RecordBatch.from_arrays(arrays, schema=sch)

    # DuckDB pulls its input from its own threads, but the batches come from this thread's
    # Django connection (or DuckDB scanner result): this thread produces into a small queue and
    # DuckDB's COPY, run in a helper thread, consumes it. Memory stays bounded by the queue.
    q: queue.Queue = queue.Queue(maxsize=2)
    done = object()
    failure: list[BaseException] = []

    def from_queue():
        while (item := q.get()) is not done:
            yield item

    con = esnap.writer_connection()
    try:
        key = esnap.add_key(con, path.parent) or esnap.begin(path.parent, con)
        reader = pa.RecordBatchReader.from_batches(sch, from_queue())

        def copy():
            try:
                esnap.write_arrow(con, key, reader, path)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the producing thread
                failure.append(exc)
                while q.get() is not done:  # let the producer finish
                    pass

        worker = threading.Thread(target=copy, name="custos-snapshot-copy")
        worker.start()
        try:
            for batch in normalised():
                if failure:
                    break
                q.put(batch)
        finally:
            q.put(done)
            worker.join()
        if failure:
            raise failure[0]
    finally:
        con.close()
    return n


# --- DuckDB scanner path ---------------------------------------------------------------------


def duckdb_attach() -> str | None:
    """The DuckDB ATTACH statement that reads the committed book, or None when the scanner cannot
    be used here (in-memory SQLite, an open transaction, no extension wheel)."""
    if connection.in_atomic_block:
        return None  # the scanner's own connection would not see uncommitted rows
    sd = connection.settings_dict
    if connection.vendor == "sqlite":
        name = str(sd["NAME"])
        if name == ":memory:" or "mode=memory" in name or not Path(name).is_file():
            return None
        if extension_file("sqlite_scanner") is None:
            return None
        return f"ATTACH {_sql_text(name)} AS book (TYPE sqlite, READ_ONLY)"
    if connection.vendor == "postgresql":
        if extension_file("postgres_scanner") is None:
            return None
        parts = {
            "host": sd.get("HOST"),
            "port": sd.get("PORT"),
            "dbname": sd.get("NAME"),
            "user": sd.get("USER"),
            "password": sd.get("PASSWORD"),
        }
        dsn = " ".join(f"{k}={_libpq_value(str(v))}" for k, v in parts.items() if v)
        return f"ATTACH {_sql_text(dsn)} AS book (TYPE postgres, READ_ONLY)"
    return None


def _sql_text(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _libpq_value(v: str) -> str:
    return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _duck_select(table: Table, vendor: str) -> str:
    exprs = []
    for c in table.columns:
        col = f'"{c.name}"'
        if c.type == "text":
            e = f"NULLIF(CAST({col} AS VARCHAR), '')"
        elif c.type == "date":
            e = f"CAST({col} AS DATE)"
        elif c.type == "timestamp":
            # SQLite: Django's naive UTC text; PostgreSQL: timestamptz (arrives as an instant)
            e = f"CAST({col} AS TIMESTAMP)" if vendor == "sqlite" else col
        elif c.type == "int":
            e = f"CAST({col} AS BIGINT)"
        else:
            e = f"CAST({col} AS DOUBLE)"
        exprs.append(f"{e} AS {col}")
    db_table = MODELS[table.name]._meta.db_table
    # SQLite's scanner reads in rowid (= id) order and DuckDB keeps it (preserve_insertion_order);
    # PostgreSQL's heap order is not id order once rows were updated.
    cluster = esnap.cluster_by(table.name)
    row_id = "CAST(id AS BIGINT)" if vendor == "sqlite" else "id"  # sqlite_all_varchar: '10' < '9'
    order = "" if vendor == "sqlite" and not cluster else f" ORDER BY {', '.join([*cluster, row_id])}"
    return f'SELECT {", ".join(exprs)} FROM book."{db_table}" WHERE gone_load_id IS NULL{order}'


def write_with_duckdb(attach: str, out: Path, progress=None, vendor: str | None = None) -> dict[str, int]:
    """Every table of the format to `out/<table>.parquet`, read through DuckDB's scanner."""

    vendor = vendor or connection.vendor
    ext = extension_file("sqlite_scanner" if vendor == "sqlite" else "postgres_scanner")
    con = esnap.offline_connect()
    counts = {}
    spill = out.parent / f"{out.name}.duckdb-tmp"
    try:
        con.execute(f"INSTALL {_sql_text(str(ext))}")
        con.execute("LOAD sqlite" if vendor == "sqlite" else "LOAD postgres")
        con.execute("SET TimeZone = 'UTC'")
        # bounded memory: PostgreSQL's ORDER BY id spills to disk beyond this
        con.execute(f"SET memory_limit = '{DUCKDB_MEMORY}'")
        con.execute(f"SET temp_directory = {_sql_text(str(spill))}")
        if vendor == "sqlite":
            con.execute("SET sqlite_all_varchar = true")  # SQLite's loose typing; cast below
        con.execute(attach)
        for i, name in enumerate(SNAPSHOT_TABLES):
            if progress:
                progress(i / len(SNAPSHOT_TABLES), f"snapshot: {name}")
            table = TABLES[name]
            reader = con.execute(_duck_select(table, vendor)).fetch_record_batch(BATCH * 4)
            counts[name] = write_batches(table, reader, out / f"{name}.parquet")
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)
    return counts
