"""`custos link --engine spark`: Splink 5 on Spark in local mode gives the same persons as DuckDB on
a small book (custos.identity.engine.spark). Skips without Java or PySpark, fails under CI=true."""

from __future__ import annotations

import importlib.util
import shutil

import pytest
from django.core.management import call_command

from custos.identity.models import LinkRun
from custos.identity.services.evaluate import read_assignment
from tests.conftest import require

pytestmark = [pytest.mark.django_db, pytest.mark.spark]

POLICIES = 60


def test_hamming_as_duckdb_counts_it():
    from custos.identity.engine.spark import hamming

    assert hamming("110101", "110102") == 1 and hamming("12", "21") == 2
    assert hamming("1", "12") is None and hamming(None, "1") is None


def test_unsigned_columns_reach_spark_signed():
    import pyarrow as pa

    from custos.identity.engine.spark import signed

    t = pa.table({"h": pa.array([1, 2**64 - 1], pa.uint64()), "s": pa.array(["a", "b"])})
    assert signed(t).schema.field("h").type == pa.int64() and signed(t).column("h").to_pylist() == [1, -1]
    assert signed(t).schema.field("s").type == pa.string()


def test_spark_links_the_same_persons_as_duckdb(tmp_path, custos_home, settings):
    require(shutil.which("java") is not None, "Java is not installed (Spark needs it)")
    require(importlib.util.find_spec("pyspark") is not None, "pyspark is not installed")
    from custos.book.services import load_book
    from custos.synth.generator import generate_book

    settings.CUSTOS_IDENTITY = {"u_max_pairs": 100_000}
    generate_book(tmp_path / "book", policies=POLICIES, seed=20261208, workers=1)
    load = load_book(tmp_path / "book")
    assert load.status == "done", load.errors

    call_command("link", "--load", str(load.pk), "--no-check")
    call_command("persons", "export", str(tmp_path / "duckdb.csv"))
    duck = read_assignment(tmp_path / "duckdb.csv")
    assert len(set(duck.values())) < len(duck)  # some customers hold several policies or roles

    call_command("link", "--load", str(load.pk), "--engine", "spark", "--full", "--no-check")
    run = LinkRun.objects.order_by("-id").first()
    assert (run.engine, run.status) == ("spark", LinkRun.Status.DONE)
    # the same clusters: every person keeps its id, nothing merged or split
    assert (run.persons_created, run.merges, run.splits) == (0, 0, 0)
    call_command("persons", "export", str(tmp_path / "spark.csv"))
    assert read_assignment(tmp_path / "spark.csv") == duck
