"""The loader's fast paths give the same book as the general ones: the DuckDB-scanner snapshot,
the first load straight into empty tables with plain indexes rebuilt afterwards, the spool."""

import shutil
import sqlite3
from pathlib import Path

import pytest
from django.db import connection

from custos.book.loader import snapshot as snap
from custos.book.loader import write as writer
from custos.book.services import load_book
from custos.core.duckdb_ext import extension_file
from custos.crypto.snapshot import read_arrow
from custos.domain.bookformat import SNAPSHOT_TABLES, TABLES
from tests.conftest import require

BASIC = Path(__file__).parent / "books" / "basic"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _home(custos_home):
    return custos_home


def _python_snapshot(out: Path) -> None:
    out.mkdir()
    for name in SNAPSHOT_TABLES:
        snap._write_table(TABLES[name], out / f"{name}.parquet")


def _same_parquet(a: Path, b: Path) -> None:
    for name in SNAPSHOT_TABLES:
        x, y = read_arrow(a, name), read_arrow(b, name)
        assert x.schema == y.schema, name
        assert x.equals(y), name


@pytest.mark.django_db(transaction=True)
def test_duckdb_snapshot_equals_python_snapshot(tmp_path):
    require(extension_file("sqlite_scanner") is not None, "duckdb-ext-sqlite is not installed")
    require(extension_file("postgres_scanner") is not None, "duckdb-ext-postgres is not installed")
    load = load_book(BASIC)
    assert load.status == "done"
    book = tmp_path / "py"
    _python_snapshot(book)
    duck = tmp_path / "duck"
    duck.mkdir()
    if connection.vendor == "sqlite":
        # the test database lives in memory: hand DuckDB a file copy of it
        copy = tmp_path / "copy.sqlite3"
        connection.ensure_connection()
        dest = sqlite3.connect(copy)
        connection.connection.backup(dest)
        dest.close()
        attach = f"ATTACH '{copy}' AS book (TYPE sqlite, READ_ONLY)"
    else:
        attach = snap.duckdb_attach()
        assert attach is not None  # committed data, outside a transaction
    counts = snap.write_with_duckdb(attach, duck)
    assert counts == {name: load.row_counts.get(name, 0) for name in SNAPSHOT_TABLES}
    _same_parquet(book, duck)
    if connection.vendor == "sqlite":
        # what write_snapshot does on SQLite: the scanner (its own copy of SQLite) in a spawned child,
        # never next to this process's connections (it would truncate their WAL index: SIGBUS)
        child = tmp_path / "child"
        child.mkdir()
        assert snap._write_with_duckdb_in_child(attach, child) == counts
        _same_parquet(book, child)


def test_scanner_not_used_inside_a_transaction():
    # pytest-django wraps this test in a transaction: the scanner would not see its rows
    assert snap.duckdb_attach() is None


def test_first_load_rebuilds_plain_indexes(monkeypatch, tmp_path):
    def indexes() -> set[str]:
        with connection.cursor() as cur:
            return {
                name
                for name, cons in connection.introspection.get_constraints(cur, "book_policy").items()
                if cons["index"] and not cons["unique"] and not cons["primary_key"]
            }

    before = indexes()
    assert before  # channel, branch_code, agent_no, partner_code
    monkeypatch.setattr(writer, "REBUILD_INDEXES_FROM", 0)
    seen = []
    load = load_book(BASIC, progress=lambda pct, note: seen.append(note))
    assert load.status == "done"
    assert any("indexing" in n for n in seen)
    assert indexes() == before
    assert load.change_counts["policies"] == {"new": 3, "updated": 0, "unchanged": 0, "gone": 0}
    # a second, changed book goes through staging and the merge with the indexes in place
    book = tmp_path / "book"
    shutil.copytree(BASIC, book)
    (book / "changes.csv").unlink(missing_ok=True)
    second = load_book(book, mode="delta")
    assert second.status == "done" and indexes() == before


def _big_book(tmp_path: Path, broken: bool) -> Path:
    from custos.bench.load import simple_book

    book = tmp_path / ("broken" if broken else "clean")
    simple_book(book, 400, seed=3)
    if broken:
        import csv

        path = book / "parties.csv"
        with open(path, encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f))
        n = len(rows)
        col = rows[0].index
        rows[3][col("address")] = 'line one\n"quoted" line two'  # a record over two lines
        rows[5][col("policy_no")] = "NOPE"  # a reference missing in both halves
        rows[n - 5][col("policy_no")] = "NOPE"
        rows[n - 3][col("birth_date")] = "2023-02-30"
        rows.insert(n // 2, [])  # a blank line near the middle
        rows.append(list(rows[2]))  # the first half's key again, at the end
        with open(path, "w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows(rows)
    return book


@pytest.mark.parametrize("broken", [False, True])
def test_two_process_check_gives_the_same_result(tmp_path, monkeypatch, broken):
    from custos.book.loader import validate

    book = _big_book(tmp_path, broken)
    results = []
    for parallel_from in (1 << 62, 0):
        monkeypatch.setattr(validate, "PARALLEL_FROM", parallel_from)
        monkeypatch.setenv("CUSTOS_LOAD_WORKERS", "2")
        split = validate._split(
            validate.TableFile(
                "parties",
                "parties.csv",
                book / "parties.csv",
                "csv",
                size=(book / "parties.csv").stat().st_size,
            ),
            validate.CsvReader(validate.TableFile("parties", "parties.csv", book / "parties.csv", "csv")),
        )
        assert (split is not None) == (parallel_from == 0)
        load = load_book(book)
        errors = [(e["file"], e["row"], e["column"], e["message"]) for e in load.errors]
        rows = {}
        if not broken:
            for name in SNAPSHOT_TABLES:
                rows[name] = read_arrow(Path(load.snapshot_path), name).to_pylist()
        results.append((load.status, load.error_count, errors, load.row_counts, rows))
        from custos.book.models import MODELS, BookLoad, PartyHistory

        PartyHistory.objects.all().delete()
        for model in reversed(list(MODELS.values())):
            model.objects.all().delete()
        BookLoad.objects.all().delete()
    assert results[0] == results[1]
    status, count, errors, _counts, _rows = results[1]
    if broken:
        assert status == "failed"
        messages = [f"{f}:{r}:{c}: {m}" for f, r, c, m in errors]
        assert any("duplicate key" in m for m in messages), messages
        assert sum("'NOPE' is not a policy_no" in m for m in messages) == 2, messages
        assert any("is not a valid date" in m for m in messages), messages
    else:
        assert status == "done"


def test_absent_optional_typed_column_loads(tmp_path):
    """A book without an optional date/number column (id_valid_until, premium) loads; the clean-row
    fast path used to fail on it with "object of type 'NoneType' has no len()"."""
    import csv

    book = tmp_path / "book"
    shutil.copytree(BASIC, book)
    for table, column in (("parties", "id_valid_until"), ("policies", "premium")):
        with open(book / f"{table}.csv", encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f))
        i = rows[0].index(column)
        with open(book / f"{table}.csv", "w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows([r[:i] + r[i + 1 :] for r in rows])
    load = load_book(book)
    assert load.status == "done", load.errors
    from custos.book.models import Party, Policy

    assert not Party.objects.exclude(id_valid_until=None).exists()
    assert not Policy.objects.exclude(premium=None).exists()
