"""DuckDB engine: in-process, the default."""

from __future__ import annotations

import os
import threading
from functools import cache
from pathlib import Path

import duckdb
import pyarrow as pa

from custos.checks.catalogue import CheckSettings
from custos.checks.engine.compiler import ORDER, OUTPUT_COLUMNS, compile_parts, prepare_statements
from custos.checks.engine.refload import all_ref_tables, ref_rows
from custos.checks.engine.snapshot import OPTIONAL_TABLES, REQUIRED_TABLES, empty_select
from custos.crypto import snapshot as esnap


def connect(threads: int | None = None, *, native: bool = True) -> duckdb.DuckDBPyConnection:
    """The engine's connection; ``native``: with the custos_native functions when they can be built
    and are not turned off (``CUSTOS_NATIVE=0``)."""
    from custos.checks import native as native_ext

    use_native = native and native_ext.enabled()
    con = esnap.offline_connect(allow_unsigned_extensions=use_native)
    if use_native:
        native_ext.load(con)
    con.execute(f"SET threads = {threads or os.cpu_count() or 2}")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")  # DuckDB's own bar on stdout; custos check draws one
    # 10 M parties peaked at 8.2 GB unbounded (2026-11-25); bound DuckDB and let it spill
    con.execute(f"SET memory_limit = '{os.environ.get('CUSTOS_DUCKDB_MEMORY', '3GB')}'")
    return con


def has_native(con: duckdb.DuckDBPyConnection) -> bool:
    """The custos_native functions are loaded in ``con``."""
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_functions() WHERE function_name = 'custos_parts'"
        ).fetchone()[0]
    )


@cache
def _ref_arrow(name: str) -> pa.Table:
    cols, data = ref_rows(name)
    return pa.table({c: [r[i] for r in data] for i, c in enumerate(cols)})


def register_refs(con: duckdb.DuckDBPyConnection) -> None:
    for name in all_ref_tables():
        con.register(f"{name}_arrow", _ref_arrow(name))
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_arrow")
        con.unregister(f"{name}_arrow")


def register_snapshot(con: duckdb.DuckDBPyConnection, snapshot_dir: Path) -> None:
    if esnap.key_id(snapshot_dir) is not None:
        esnap.load_full_crypto(con)  # AES-NI instead of DuckDB's read-only crypto module
    for name in (*REQUIRED_TABLES, *OPTIONAL_TABLES):
        path = snapshot_dir / f"{name}.parquet"
        if path.exists():  # encrypted snapshot (custos.crypto.snapshot) or a plain one
            con.execute(
                f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {esnap.source(con, snapshot_dir, name)}"
            )
        elif name in REQUIRED_TABLES:
            raise FileNotFoundError(path)
        else:
            con.execute(f"CREATE OR REPLACE VIEW {name} AS {empty_select(name)}")


def prepare(
    con: duckdb.DuckDBPyConnection, settings: CheckSettings | None = None, *, role_scoped: bool = True
) -> None:
    """The prepared tables, with the single-row rules of ``settings`` (default: every check) in
    ``ptm.rule_mask``; ``role_scoped=False`` keeps every party's contact values in ``pt`` (the
    screening context indexes them all)."""
    for name, sql, materialize in prepare_statements(
        "duckdb", settings or CheckSettings(), role_scoped=role_scoped, native=has_native(con)
    ):
        kind = "TEMP TABLE" if materialize else "TEMP VIEW"
        con.execute(f"CREATE OR REPLACE {kind} {name} AS {sql}")


def run_parts(con: duckdb.DuckDBPyConnection, settings: CheckSettings, progress=None) -> pa.Table:
    """Every enabled check over the prepared views, one statement per part (``compile_parts``),
    the findings sorted as ``compile_all`` sorts them."""
    parts = compile_parts(settings, native=has_native(con))
    tables = []
    for i, (label, sql) in enumerate(parts):
        if progress:
            progress(50 + 45 * i // len(parts), f"running checks ({label})")
        tables.append(con.execute(sql).fetch_arrow_table())
    if not tables:
        from custos.checks.engine import FINDING_SCHEMA

        return FINDING_SCHEMA.empty_table()
    found = pa.concat_tables(tables)
    con.register("found_arrow", found)
    try:
        cols = ", ".join(f'"{c}"' for c in OUTPUT_COLUMNS)
        return con.execute(f"SELECT {cols} FROM found_arrow {ORDER}").fetch_arrow_table()
    finally:
        con.unregister("found_arrow")


def run(
    snapshot_dir: Path, settings: CheckSettings, *, progress=None, threads: int | None = None
) -> pa.Table:
    con = connect(threads)
    try:
        if progress:
            progress(5, "reference data")
        register_refs(con)
        register_snapshot(con, snapshot_dir)
        if progress:
            progress(15, "preparing parties")
        prepare(con, settings)
        table = run_parts(con, settings, progress)
        if progress:
            progress(100, f"{table.num_rows} findings")
        return table
    finally:
        close_in_background(con)


def close_in_background(con: duckdb.DuckDBPyConnection) -> None:
    """Close ``con`` on a thread of its own: freeing the prepared tables took 0.1 s at 1 M policies
    (2026-11-26), which the findings need not wait for (DuckDB releases the GIL meanwhile). Not a
    daemon thread, so the interpreter waits for it at exit."""
    threading.Thread(target=con.close, name="custos-duckdb-close").start()
