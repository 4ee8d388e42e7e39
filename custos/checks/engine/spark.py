"""Spark engine: the same SQL transpiled by sqlglot, for books that outgrow one machine."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pyarrow as pa

from custos.checks.catalogue import CheckSettings
from custos.checks.engine.compiler import compile_all, prepare_statements
from custos.checks.engine.refload import REF_TABLES, all_ref_tables, ref_rows
from custos.checks.engine.snapshot import OPTIONAL_TABLES, REQUIRED_TABLES, empty_select

_SESSIONS: dict[str, object] = {}
timings: dict[str, float] = {}  # seconds of the last run (diagnostics)


def session(master: str = "local[2]"):
    """One SparkSession per master for the process (starting one costs seconds)."""
    from pyspark.sql import SparkSession

    if master not in _SESSIONS:
        _SESSIONS[master] = (
            SparkSession.builder.master(master)
            .appName("custos-checks")
            .config("spark.sql.ansi.enabled", "false")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.sql.adaptive.enabled", "true")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.autoBroadcastJoinThreshold", str(64 * 1024 * 1024))
            .config("spark.sql.session.timeZone", "Asia/Shanghai")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            # local mode: the driver is the executor and holds the decrypted snapshot (2 GB ran out
            # of heap at 1 M policies, 2026-11-25); CUSTOS_SPARK_DRIVER_MEMORY sizes it
            .config("spark.driver.memory", os.environ.get("CUSTOS_SPARK_DRIVER_MEMORY", "8g"))
            # the decrypted rows PySpark hands to the JVM, shuffle and spill files: encrypted on disk
            .config("spark.io.encryption.enabled", "true")
            .getOrCreate()
        )
    return _SESSIONS[master]


def _ref_schema(name: str) -> str:
    if name == "ref_numbers":
        return "i INT"
    return ", ".join(f"{c} {'INT' if t == 'INTEGER' else 'STRING'}" for c, t in REF_TABLES[name][1])


def _snapshot_frame(spark, snapshot_dir: Path, name: str):
    """A snapshot table as a Spark DataFrame. Spark cannot open DuckDB's encrypted Parquet: an
    encrypted snapshot is decrypted by DuckDB into Arrow in this process and handed to Spark
    (local mode; on a cluster the driver would ship it the same way: see docs/security.md)."""
    from custos.crypto import snapshot as esnap

    if esnap.key_id(snapshot_dir) is None:
        return spark.read.parquet(str(snapshot_dir / f"{name}.parquet"))
    return spark.createDataFrame(esnap.read_arrow(snapshot_dir, name))  # PySpark 4 takes Arrow tables


def run(snapshot_dir: Path, settings: CheckSettings, *, progress=None, master: str = "local[2]") -> pa.Table:
    import sqlglot

    spark = session(master)
    if progress:
        progress(5, "reference data")
    for name in all_ref_tables():
        cols, data = ref_rows(name)
        arrow = pa.table({c: [r[i] for r in data] for i, c in enumerate(cols)})
        spark.createDataFrame(arrow, schema=_ref_schema(name)).createOrReplaceTempView(name)
    for name in (*REQUIRED_TABLES, *OPTIONAL_TABLES):
        path = snapshot_dir / f"{name}.parquet"
        if path.exists():
            _snapshot_frame(spark, snapshot_dir, name).createOrReplaceTempView(name)
        elif name in REQUIRED_TABLES:
            raise FileNotFoundError(path)
        else:
            spark.sql(
                sqlglot.transpile(empty_select(name), read="duckdb", write="spark")[0]
            ).createOrReplaceTempView(name)
    if progress:
        progress(15, "preparing parties")
    cached = []
    for name, sql, materialize in prepare_statements("spark", settings):
        df = spark.sql(sql)
        if materialize:
            df = df.cache()
            cached.append(df)
        df.createOrReplaceTempView(name)
    if progress:
        progress(50, "running checks")
    try:  # one query for the whole catalogue: Spark plans it once and shares the cached views
        t = time.perf_counter()
        table = spark.sql(compile_all(settings, "spark")).toArrow()
        timings["all"] = time.perf_counter() - t
    finally:
        for df in cached:
            df.unpersist()
    if progress:
        progress(100, f"{table.num_rows} findings")
    return table
