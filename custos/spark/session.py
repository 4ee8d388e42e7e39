"""The SparkSession of every custos engine: local mode by default, a cluster with
CUSTOS_SPARK_MASTER (``spark://host:7077`` for a standalone cluster, ``yarn`` on the insurer's).

Whatever the master, executors read the book's published snapshot themselves (custos.spark.storage)
through Parquet modular encryption with custos's KMS client (custos/spark/jars/custos-spark.jar),
and shuffle and spill files are encrypted (spark.io.encryption.enabled).

Sizing (defaults fit a 2-core development machine): CUSTOS_SPARK_DRIVER_MEMORY,
CUSTOS_SPARK_EXECUTOR_MEMORY, CUSTOS_SPARK_EXECUTOR_CORES, CUSTOS_SPARK_EXECUTORS (YARN),
CUSTOS_SPARK_CORES_MAX (standalone), CUSTOS_SPARK_SHUFFLE_PARTITIONS; any other Spark property
through CUSTOS_SPARK_CONF (``key=value;key=value``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from custos.spark import kms

DEFAULT_MASTER = "local[2]"
JAR = Path(__file__).parent / "jars" / "custos-spark.jar"
JAVA_SOURCES = Path(__file__).parent / "java"
_SESSIONS: dict[str, object] = {}


def resolve_master(master: str | None = None) -> str:
    """``master`` unless it is unset or the project-wide default (local[2]) and CUSTOS_SPARK_MASTER
    names a cluster."""
    env = os.environ.get("CUSTOS_SPARK_MASTER", "").strip()
    if master and master != DEFAULT_MASTER:
        return master
    return env or DEFAULT_MASTER


def is_local(master: str) -> bool:
    return master.startswith("local")


def build_jar(out: Path = JAR) -> Path:
    """Compile custos's Java classes (the KMS client) against PySpark's jars into ``out``."""
    import pyspark

    javac, jar = shutil.which("javac"), shutil.which("jar")
    if not javac or not jar:
        raise RuntimeError("javac/jar not found (a JDK 17 is needed to build custos-spark.jar)")
    jars = Path(pyspark.__file__).parent / "jars"
    sources = sorted(str(p) for p in JAVA_SOURCES.rglob("*.java"))
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [javac, "--release", "17", "-cp", f"{jars}/*", "-d", tmp, *sources],
            check=True,
            capture_output=True,
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([jar, "cf", str(out), "-C", tmp, "."], check=True, capture_output=True)
    return out


def jar_path() -> Path:
    if JAR.exists():
        return JAR
    return build_jar()


def _extra_conf() -> dict[str, str]:
    out = {}
    for item in os.environ.get("CUSTOS_SPARK_CONF", "").split(";"):
        if "=" in item:
            k, v = item.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def conf(master: str) -> dict[str, str]:
    """The session's Spark properties for ``master``."""
    env = os.environ.get
    c = {
        "spark.app.name": "custos",
        "spark.sql.ansi.enabled": "false",
        "spark.sql.adaptive.enabled": "true",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "Asia/Shanghai",
        "spark.ui.enabled": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # the snapshot: Parquet modular encryption, custos's keyring (or the insurer's KMS) as KMS
        "spark.jars": str(jar_path()),
        "spark.hadoop.parquet.crypto.factory.class": kms.FACTORY,
        "spark.hadoop.parquet.encryption.kms.client.class": kms.kms_client_class(),
        # shuffle and spill files (and cached blocks spilled to disk): encrypted
        "spark.io.encryption.enabled": "true",
    }
    if is_local(master) or master.startswith(("spark://127.0.0.1", "spark://localhost")):
        c["spark.pyspark.python"] = sys.executable  # same machine: custos's venv (elsewhere: none needed)
    if is_local(master):
        c["spark.sql.shuffle.partitions"] = env("CUSTOS_SPARK_SHUFFLE_PARTITIONS", "2")
        c["spark.sql.autoBroadcastJoinThreshold"] = str(64 * 1024 * 1024)
        # local mode: the driver is the executor (2 GB ran out of heap at 1 M policies, 2026-11-25)
        c["spark.driver.memory"] = env("CUSTOS_SPARK_DRIVER_MEMORY", "8g")
    else:
        # the driver plans and receives the findings; the executors hold the book
        c["spark.driver.memory"] = env("CUSTOS_SPARK_DRIVER_MEMORY", "1g")
        c["spark.executor.memory"] = env("CUSTOS_SPARK_EXECUTOR_MEMORY", "1500m")
        c["spark.executor.cores"] = env("CUSTOS_SPARK_EXECUTOR_CORES", "1")
        c["spark.sql.shuffle.partitions"] = env("CUSTOS_SPARK_SHUFFLE_PARTITIONS", "8")
        # a broadcast join's small side passes through the driver: Spark's 10 MB (the reference
        # tables, branches, staff), not the 64 MB of local mode, whose driver ran out of its 1 GB
        # heap at 1 M parties (2026-12-07); book-sized tables join by sort-merge on the executors
        c["spark.sql.autoBroadcastJoinThreshold"] = env("CUSTOS_SPARK_BROADCAST_BYTES", str(10 * 1024 * 1024))
        if env("CUSTOS_SPARK_CORES_MAX"):
            c["spark.cores.max"] = env("CUSTOS_SPARK_CORES_MAX")
        if env("CUSTOS_SPARK_EXECUTORS"):
            c["spark.executor.instances"] = env("CUSTOS_SPARK_EXECUTORS")
        if master.startswith("spark://127.0.0.1") or master.startswith("spark://localhost"):
            c["spark.driver.host"] = "127.0.0.1"  # the cluster of `custos spark up`
        from custos.spark import cluster

        secret = cluster.secret_for(master)
        if secret:  # our standalone cluster: authenticated and encrypted RPC, as on YARN
            c["spark.authenticate"] = "true"
            c["spark.authenticate.secret"] = secret
            c["spark.network.crypto.enabled"] = "true"
    c.update(_extra_conf())
    return c


def session(master: str | None = None):
    """One SparkSession for the process (a JVM holds one SparkContext; asking for another master
    stops the first)."""
    from pyspark.sql import SparkSession

    master = resolve_master(master)
    if master not in _SESSIONS:
        for other in list(_SESSIONS):
            _SESSIONS.pop(other).stop()
        builder = SparkSession.builder.master(master)
        for k, v in conf(master).items():
            builder = builder.config(k, v)
        _SESSIONS[master] = builder.getOrCreate()
    return _SESSIONS[master]


def stop() -> None:
    for master in list(_SESSIONS):
        _SESSIONS.pop(master).stop()


def read_snapshot_table(spark, uri: str, name: str, key_id: str | None):
    """A published snapshot table as a DataFrame the executors read themselves."""
    reader = spark.read
    if key_id is not None:
        reader = reader.options(**kms.read_options(key_id))
    return reader.parquet(f"{uri}/{name}")
