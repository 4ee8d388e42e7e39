"""Spark engine: the same SQL transpiled by sqlglot, for books that outgrow one machine."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa

from custos.checks.catalogue import CheckSettings
from custos.checks.engine.compiler import compile_all, prepare_statements
from custos.checks.engine.refload import REF_TABLES, all_ref_tables, ref_rows
from custos.checks.engine.snapshot import OPTIONAL_TABLES, REQUIRED_TABLES, empty_select

timings: dict[str, float] = {}  # seconds of the last run (diagnostics)


def session(master: str | None = None):
    """The process's SparkSession (custos.spark.session): local mode unless CUSTOS_SPARK_MASTER or
    ``master`` names a cluster."""
    from custos.spark.session import session as spark_session

    return spark_session(master)


def _ref_schema(name: str) -> str:
    if name == "ref_numbers":
        return "i INT"
    return ", ".join(f"{c} {'INT' if t == 'INTEGER' else 'STRING'}" for c, t in REF_TABLES[name][1])


def register_snapshot(spark, snapshot_dir: Path, *, progress=None) -> None:
    """The snapshot's tables as temporary views the executors read themselves: the snapshot is
    published once to CUSTOS_SPARK_STORAGE (encrypted with Parquet modular encryption,
    custos.spark.storage) and read from there; the driver never holds the book."""
    import sqlglot

    from custos.spark import storage
    from custos.spark.session import read_snapshot_table

    present = [n for n in (*REQUIRED_TABLES, *OPTIONAL_TABLES) if (snapshot_dir / f"{n}.parquet").exists()]
    for name in REQUIRED_TABLES:
        if name not in present:
            raise FileNotFoundError(snapshot_dir / f"{name}.parquet")
    t = time.perf_counter()
    uri, key_id = storage.publish(snapshot_dir, present)
    timings["publish"] = time.perf_counter() - t
    for name in (*REQUIRED_TABLES, *OPTIONAL_TABLES):
        if name in present:
            read_snapshot_table(spark, uri, name, key_id).createOrReplaceTempView(name)
        else:
            spark.sql(
                sqlglot.transpile(empty_select(name), read="duckdb", write="spark")[0]
            ).createOrReplaceTempView(name)


def run(snapshot_dir: Path, settings: CheckSettings, *, progress=None, master: str | None = None) -> pa.Table:
    spark = session(master)
    if progress:
        progress(5, "reference data")
    for name in all_ref_tables():
        cols, data = ref_rows(name)
        arrow = pa.table({c: [r[i] for r in data] for i, c in enumerate(cols)})
        spark.createDataFrame(arrow, schema=_ref_schema(name)).createOrReplaceTempView(name)
    if progress:
        progress(10, "publishing the snapshot for the executors")
    register_snapshot(spark, Path(snapshot_dir))
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
