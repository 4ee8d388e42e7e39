"""Incremental linking: a later book's new and changed parties are scored against the stored
records with the stored model (Splink's predict_between, the trained term frequencies registered),
the clusters are updated rather than rebuilt, person ids last, and the result agrees with a full
relink."""

from __future__ import annotations

import csv
import shutil

import pytest

from custos.identity.models import LinkRun, PersonRecord
from custos.identity.services.evaluate import read_assignment, scores

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

POLICIES = 300
LATE = 30


@pytest.fixture(scope="module")
def books(tmp_path_factory):
    """(first, second, truth): the first book lacks the last LATE policies; the second has them all
    and three parties with a new mobile."""
    from custos.synth.generator import generate_book

    root = tmp_path_factory.mktemp("incremental")
    second = root / "second"
    generate_book(second, policies=POLICIES, seed=4242, workers=1)
    first = root / "first"
    shutil.copytree(second, first)
    with (second / "policies.csv").open(encoding="utf-8") as f:
        late = {r["policy_no"] for r in list(csv.DictReader(f))[-LATE:]}
    for table in ("policies", "parties", "changes", "visits", "commissions"):
        path = first / f"{table}.csv"
        if not path.exists():
            continue
        with path.open(encoding="utf-8") as f:
            rows = list(csv.reader(f))
        col = rows[0].index("policy_no")
        with path.open("w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows([rows[0], *[r for r in rows[1:] if r[col] not in late]])
    # three applicants of early policies changed their mobile in the second book
    path = second / "parties.csv"
    with path.open(encoding="utf-8") as f:
        rows = list(csv.reader(f))
    h = rows[0]
    changed = []
    for r in rows[1:]:
        if len(changed) == 3:
            break
        if r[h.index("policy_no")] not in late and r[h.index("role")] == "applicant" and r[h.index("mobile")]:
            r[h.index("mobile")] = f"1370000{len(changed):04d}"
            changed.append((r[h.index("policy_no")], "applicant", 1))
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    return first, second, late, changed


@pytest.fixture
def fast(settings):
    settings.CUSTOS_IDENTITY = {"u_max_pairs": 200_000}


def _load(folder):
    from custos.book.services import load_book

    load = load_book(folder)
    assert load.status == "done", load.errors
    return load


def _assignment(tmp_path, name):
    from custos.identity.services.export import export_csv

    out = tmp_path / name
    export_csv(out)
    return read_assignment(out)


def test_a_later_book_links_incrementally(books, tmp_path, custos_home, fast):
    from django.core.management import call_command

    from custos.identity.services.link import run_link

    first, second, late, changed = books
    run1 = run_link(_load(first))
    assert run1.settings["mode"] == "full"
    before = _assignment(tmp_path, "before.csv")
    store = custos_home / "identity" / f"run-{run1.pk}" / "store"
    assert list(store.glob("records-*.parquet")) and (store / "tf_name_n.parquet").exists()
    # the store is encrypted like a snapshot: no customer value in clear on disk
    with (first / "parties.csv").open(encoding="utf-8") as f:
        row = next(csv.DictReader(f))
    raw = b"".join(p.read_bytes() for p in store.glob("*.parquet"))
    for value in (row["name"], row["mobile"], row["id_no"]):
        assert value.encode() not in raw

    _load(second)
    call_command("link", "--no-check", stdout=(log := _Out()))
    run2 = LinkRun.objects.get(pk=LinkRun.objects.latest("id").pk)
    assert "incremental on run #%d" % run1.pk in log.text
    st = run2.settings
    assert st["mode"] == "incremental" and st["base_run"] == run1.pk
    new_keys = {k for k in read_assignment(second / "truth" / "persons.csv") if k[0] in late}
    assert (st["new"], st["changed"]) == (len(new_keys), len(changed))
    assert st["unchanged"] == len(before) - len(changed)
    # only pairs naming a new or changed party were scored; the other records were not touched
    assert 0 < run2.pairs_scored < run1.pairs_scored
    assert PersonRecord.objects.filter(run=run1).count() == len(before)
    after = _assignment(tmp_path, "after.csv")
    assert {k: after[k] for k in before} == before, "every earlier party keeps its person"
    assert set(after) - set(before) == new_keys
    truth = read_assignment(second / "truth" / "persons.csv")
    joined = [k for k in new_keys if after[k] in set(before.values())]
    assert joined, "some customer of the late policies was known from the first book"
    s = scores(after, truth)
    assert s["precision"] >= 0.99 and s["recall"] >= 0.98, s
    assert run2.persons_created == len(set(after.values()) - set(before.values()))
    assert run2.persons == len(set(after.values()))

    # the same book again: nothing new, nothing scored, nothing moved
    run3 = run_link(run2.load)
    assert (run3.settings["new"], run3.settings["changed"], run3.pairs_scored) == (0, 0, 0)
    assert (run3.persons_created, run3.merges, run3.splits) == (0, 0, 0)
    # only the latest run keeps a store: the earlier parts linked, one part per run (a changed
    # record's latest part wins, else run 3 would have seen the three mobiles change again)
    assert not store.exists()
    parts = sorted((custos_home / "identity" / f"run-{run3.pk}" / "store").glob("records-*.parquet"))
    assert [p.name for p in parts] == [f"records-{r.pk:08d}.parquet" for r in (run1, run2, run3)]

    # a full relink of the same book finds the same persons, under the same ids
    call_command("link", "--no-check", "--full", stdout=(log := _Out()))
    assert "full: model trained" in log.text
    full = LinkRun.objects.latest("id")
    assert full.settings["mode"] == "full" and (full.merges, full.splits, full.persons_created) == (0, 0, 0)
    assert _assignment(tmp_path, "full.csv") == after
    assert len(list((custos_home / "identity" / f"run-{full.pk}" / "store").glob("records-*"))) == 1


class _Out:
    def __init__(self):
        self.text = ""

    def write(self, s):
        self.text += s

    def flush(self):
        pass


def test_engine_seam(monkeypatch):
    """`--engine spark` asks custos.identity.engine.spark for Splink's database API, lazily."""
    import sys
    import types

    from custos.identity.engine import model

    fake = types.ModuleType("custos.identity.engine.spark")
    fake.db_api = lambda: "spark-api"
    monkeypatch.setitem(sys.modules, "custos.identity.engine.spark", fake)
    assert model.db_api("spark") == "spark-api"
    import duckdb
    from splink import DuckDBAPI

    assert isinstance(model.db_api("duckdb", duckdb.connect()), DuckDBAPI)
    with pytest.raises(ValueError, match="unknown engine"):
        model.db_api("oracle")
    spark = model.comparisons("spark")
    sql = " ".join(lvl["sql_condition"] for c in spark for lvl in c["comparison_levels"])
    assert "hamming" not in sql and "jaro_winkler(" in sql
