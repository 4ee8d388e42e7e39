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
(`_write_batches`) and writes each table as an encrypted Parquet file through
`custos.crypto.snapshot` (Parquet modular encryption, key derived from the primary data key); readers
use that module too.
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
from django.db import connection, transaction

from custos import paths
from custos.book.models import MODELS
from custos.crypto import parallel
from custos.crypto import snapshot as esnap
from custos.domain.bookformat import LOAD_ORDER, TABLES, Table

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


def write_snapshot(load_id: int, progress: Callable[[float, str], None] | None = None) -> Path:
    root = paths.snapshots_dir()
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"load-{load_id}"
    tmp = root / f".load-{load_id}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        attach = duckdb_attach()
        if attach is not None and connection.vendor == "sqlite" and _daemonic():
            attach = None  # a daemonic process may not have the child the scanner needs: read via Django
        if attach is not None and connection.vendor == "sqlite":
            _write_with_duckdb_in_child(attach, tmp, progress)
        elif attach is not None:
            with _opening_helper():
                write_with_duckdb(attach, tmp, progress)
        else:
            # server-side cursors on PostgreSQL live in a transaction; on SQLite a transaction would
            # hold the progress updates' lock on the load row for the whole snapshot
            pg = connection.vendor == "postgresql"
            with _opening_helper(), transaction.atomic() if pg else contextlib.nullcontext():
                for i, name in enumerate(LOAD_ORDER):
                    if progress:
                        progress(i / len(LOAD_ORDER), f"snapshot: {name}")
                    _write_table(TABLES[name], tmp / f"{name}.parquet")
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


@contextlib.contextmanager
def _opening_helper():
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

    if _daemonic():
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
            return _write_batches(table, [], path)
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
        return _write_batches(table, reader, path)


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

    return _write_batches(table, batches(), path)


# --- DuckDB scanner path ---------------------------------------------------------------------


def _extension_file(name: str) -> Path | None:
    try:
        import duckdb
        import duckdb_ext  # the offline extension wheels
    except ImportError:
        return None
    base = Path(next(iter(duckdb_ext.__path__))) / "extensions" / f"v{duckdb.__version__}"
    found = sorted(base.glob(f"*/{name}.duckdb_extension"))
    return found[0] if found else None


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
        if _extension_file("sqlite_scanner") is None:
            return None
        return f"ATTACH {_sql_text(name)} AS book (TYPE sqlite, READ_ONLY)"
    if connection.vendor == "postgresql":
        if _extension_file("postgres_scanner") is None:
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
        from custos.book.loader import snapshot_child

        return pool.submit(snapshot_child.write, attach, str(out)).result()


def _daemonic() -> bool:
    import multiprocessing

    return bool(multiprocessing.current_process().daemon)


def write_with_duckdb(attach: str, out: Path, progress=None, vendor: str | None = None) -> dict[str, int]:
    """Every table of the format to `out/<table>.parquet`, read through DuckDB's scanner."""

    vendor = vendor or connection.vendor
    ext = _extension_file("sqlite_scanner" if vendor == "sqlite" else "postgres_scanner")
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
        for i, name in enumerate(LOAD_ORDER):
            if progress:
                progress(i / len(LOAD_ORDER), f"snapshot: {name}")
            table = TABLES[name]
            reader = con.execute(_duck_select(table, vendor)).fetch_record_batch(BATCH * 4)
            counts[name] = _write_batches(table, reader, out / f"{name}.parquet")
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)
    return counts


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


def _write_batches(table: Table, batches, path: Path) -> int:
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
