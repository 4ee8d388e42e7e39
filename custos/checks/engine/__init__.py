"""Bulk check engines: the catalogue compiled to SQL and run on DuckDB (default) or Spark.

Input is a snapshot directory of Parquet files named after the book-format tables
(``branches staff partners policies parties`` required, ``changes visits`` optional) plus an
optional ``blacklist.parquet`` (``staff_no, id_no, name``: the industry blacklist). Output is one
Arrow table of findings, sorted: ``check, policy_no, role, seq, field, value, proposed, detail``
(``detail``: why, where a check says more than its message — ID09's ranking of the variants).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from custos.checks.engine.snapshot import (
    BLACKLIST_COLUMNS,
    OPTIONAL_TABLES,
    REQUIRED_TABLES,
    snapshot_from_csv_folder,
)

if TYPE_CHECKING:  # the catalogue imports engine.prepare: import it lazily
    from custos.checks.catalogue import CheckSettings

Progress = Callable[[int, str], None]

FINDING_SCHEMA = pa.schema(
    [
        ("check", pa.string()),
        ("policy_no", pa.string()),
        ("role", pa.string()),
        ("seq", pa.int64()),
        ("field", pa.string()),
        ("value", pa.string()),
        ("proposed", pa.string()),
        ("detail", pa.string()),
    ]
)


def run_checks(
    snapshot_dir: Path,
    *,
    engine: str = "duckdb",
    settings: CheckSettings | None = None,
    progress: Progress | None = None,
    spark_master: str = "local[2]",
    threads: int | None = None,
) -> pa.Table:
    """Run every enabled check of the catalogue over a snapshot; return the findings."""
    from custos.checks.catalogue import CheckSettings

    settings = settings or CheckSettings()
    snapshot_dir = Path(snapshot_dir)
    if engine == "duckdb":
        from custos.checks.engine import duck

        table = duck.run(snapshot_dir, settings, progress=progress, threads=threads)
    elif engine == "spark":
        from custos.checks.engine import spark

        table = spark.run(snapshot_dir, settings, progress=progress, master=spark_master)
    else:
        raise ValueError(f"unknown engine {engine!r} (duckdb or spark)")
    from custos.checks.engine.compiler import OUTPUT_COLUMNS

    return table.select(list(OUTPUT_COLUMNS)).cast(FINDING_SCHEMA)


def evaluate_records(
    records: dict[str, list[dict]],
    *,
    settings: CheckSettings | None = None,
    context_snapshot: Path | None = None,
) -> list[dict]:
    """Evaluate one application (its ``policies`` and ``parties`` rows, optionally ``changes``,
    ``visits``, and ``staff``/``branches``/``partners``/``blacklist`` rows) with the same compiled
    definitions, on DuckDB in memory; return its findings as dicts with the output columns.

    With ``context_snapshot`` the records are checked together with that book (the records replace
    the book's rows of the same policy numbers), so cross-record checks (shared phones, ID numbers
    used under other names, staff phones…) see the book; without it only the records are seen.
    Only findings of the records' policies are returned.
    """
    from custos.checks.catalogue import CheckSettings
    from custos.checks.engine import duck
    from custos.checks.engine.compiler import ORDER, OUTPUT_COLUMNS, compile_all
    from custos.checks.engine.snapshot import arrow_tables, empty_select

    settings = settings or CheckSettings()
    policy_nos = sorted({str(r["policy_no"]) for t in ("policies", "parties") for r in records.get(t, [])})
    con = duck.connect(1)
    try:
        duck.register_refs(con)
        con.execute(
            "CREATE TEMP TABLE rec_policy_nos AS SELECT unnest(?::VARCHAR[]) AS policy_no", [policy_nos]
        )
        for name, table in arrow_tables(records).items():
            con.register(f"rec_{name}", table)
            cols = ", ".join(table.column_names)
            sql = f"SELECT {cols} FROM rec_{name}"
            path = Path(context_snapshot) / f"{name}.parquet" if context_snapshot else None
            if path is not None and path.exists():
                keep = "policy_no NOT IN (SELECT policy_no FROM rec_policy_nos)"
                where = f" WHERE {keep}" if "policy_no" in table.column_names else ""
                from custos.crypto import snapshot as esnap

                src = esnap.source(con, Path(context_snapshot), name)
                sql = f"SELECT {cols} FROM {src}{where} UNION ALL {sql}"
            elif path is not None and name in REQUIRED_TABLES:
                raise FileNotFoundError(path)
            elif table.num_rows == 0:
                sql = empty_select(name)
            con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {sql}")
        duck.prepare(con, settings)
        found = con.execute(
            f"SELECT * FROM ({compile_all(settings, 'duckdb')}) f "
            f"WHERE policy_no IN (SELECT policy_no FROM rec_policy_nos) {ORDER}"
        ).fetch_arrow_table()
    finally:
        con.close()
    return found.select(list(OUTPUT_COLUMNS)).cast(FINDING_SCHEMA).to_pylist()


__all__ = [
    "evaluate_records",
    "BLACKLIST_COLUMNS",
    "FINDING_SCHEMA",
    "OPTIONAL_TABLES",
    "REQUIRED_TABLES",
    "run_checks",
    "snapshot_from_csv_folder",
]
