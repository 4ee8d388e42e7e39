"""Splink 5 on Spark: the identity engine for books that outgrow one machine.

    db_api = db_api()          # splink SparkAPI over the process's SparkSession

The session is the one every custos Spark engine uses (``custos.checks.engine.spark.session``: local
mode by default, ``CUSTOS_SPARK_MASTER`` for a cluster, nothing downloaded). The comparisons of
``engine/model.py`` are written in DuckDB's SQL; Spark SQL reads them as they are once the three
functions they call that Spark lacks are registered under DuckDB's names:

- ``jaro_winkler_similarity`` and ``damerau_levenshtein``: the Scala UDFs of the jar Splink ships
  (``splink.backends.spark.similarity_jar_location``), added to the running session (``ADD JAR``) so
  that a session another engine started first serves too;
- ``hamming``: a Python UDF (the number of positions at which two strings of one length differ).

Splink's own UDFs (``jaro_winkler``, …) are registered by SparkAPI from the same jar. Splink breaks
the lineage of its intermediate tables by persisting them (not by checkpoints, which would write the
records in clear to the checkpoint directory).
"""

from __future__ import annotations

import logging

_READY: set[int] = set()  # sessions whose functions are registered (by id of the JVM session)

JAVA_UDFS = (
    ("jaro_winkler_similarity", "uk.gov.moj.dash.linkage.JaroWinklerSimilarity"),
    ("damerau_levenshtein", "uk.gov.moj.dash.linkage.LevDamerauDistance"),
)


def hamming(a: str | None, b: str | None) -> int | None:
    if a is None or b is None or len(a) != len(b):
        return None
    return sum(1 for x, y in zip(a, b, strict=True) if x != y)


def session(master: str | None = None):
    """The process's SparkSession with the functions the comparisons call."""
    from custos.checks.engine import spark as checks_spark

    spark = checks_spark.session(master) if master else checks_spark.session()
    register_functions(spark)
    return spark


def register_functions(spark) -> None:
    from pyspark.sql.types import DoubleType, IntegerType
    from splink.backends.spark import similarity_jar_location

    key = id(spark)
    if key in _READY:
        return
    spark.sql(f"ADD JAR '{similarity_jar_location()}'")
    for name, cls in JAVA_UDFS:
        spark.udf.registerJavaFunction(name, cls, DoubleType())
    spark.udf.register("hamming", hamming, IntegerType())
    _READY.add(key)


def db_api(master: str | None = None):
    """Splink's SparkAPI over the session: ``db_api.register(arrow_table, "records")`` then
    ``Linker(sdf, settings)`` as with DuckDB."""
    from splink import SparkAPI

    class API(SparkAPI):
        def _table_registration(self, input, table_name):
            super()._table_registration(signed(input), table_name)

    logging.getLogger("splink").setLevel(logging.ERROR)
    # persist, not Splink's default checkpoint: a checkpoint writes the records in clear to a
    # checkpoint directory; persisted blocks spilled to disk are encrypted (spark.io.encryption)
    return API(spark_session=session(master), break_lineage_method="persist")


def signed(table):
    """An Arrow table with its unsigned integer columns (DuckDB's hash(), UBIGINT) as int64, bit for
    bit: Spark's Arrow conversion has no unsigned types. Anything else is returned as it is."""
    import pyarrow as pa

    if not isinstance(table, pa.Table):
        return table
    fields = [
        pa.field(f.name, pa.int64()) if pa.types.is_unsigned_integer(f.type) else f for f in table.schema
    ]
    # unchecked: a 64-bit hash over 2**63 wraps to a negative number, one to one, so equal stays equal
    return table if fields == list(table.schema) else table.cast(pa.schema(fields), safe=False)
