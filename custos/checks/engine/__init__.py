"""Bulk check engines: the catalogue compiled to SQL and run on DuckDB (default) or Spark.

Input is a snapshot directory of Parquet files named after the book-format tables
(``branches staff partners policies parties`` required, ``changes visits`` optional) plus an
optional ``blacklist.parquet`` (``staff_no, id_no, name``: the industry blacklist). Output is one
Arrow table of findings, sorted: ``check, policy_no, role, seq, field, value, proposed``.
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


__all__ = [
    "BLACKLIST_COLUMNS",
    "FINDING_SCHEMA",
    "OPTIONAL_TABLES",
    "REQUIRED_TABLES",
    "run_checks",
    "snapshot_from_csv_folder",
]
