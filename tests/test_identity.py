"""Identity resolution on a synthetic book: persons against truth/persons.csv, ids that last across
runs and books, XC findings with the ordinary life cycle, the export."""

from __future__ import annotations

import csv
import shutil

import pytest

from custos.identity.models import LinkRun, PersonRecord
from custos.identity.services.evaluate import read_assignment, scores

pytestmark = [pytest.mark.django_db, pytest.mark.slow, pytest.mark.xdist_group("test_identity")]

POLICIES = 400


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    from custos.synth.generator import generate_book

    root = tmp_path_factory.mktemp("identity")
    generate_book(root / "book", policies=POLICIES, seed=20261207, workers=1)
    return root / "book"


@pytest.fixture
def fast(settings):
    settings.CUSTOS_IDENTITY = {"u_max_pairs": 200_000}


def _load(folder):
    from custos.book.services import load_book

    load = load_book(folder)
    assert load.status == "done", load.errors
    return load


def _export(tmp_path, name="persons.csv"):
    from custos.identity.services.export import export_csv

    out = tmp_path / name
    export_csv(out)
    return out


def test_link_matches_the_truth_and_ids_last(book, tmp_path, custos_home, fast):
    from custos.identity.services.link import run_link

    load = _load(book)
    run = run_link(load)
    assert run.status == LinkRun.Status.DONE
    assert run.records == PersonRecord.objects.count() > POLICIES
    out = _export(tmp_path)
    with out.open(encoding="utf-8") as f:
        assert next(csv.reader(f)) == ["policy_no", "role", "seq", "person_id"]
    found = read_assignment(out)
    truth = read_assignment(book / "truth" / "persons.csv")
    assert found.keys() == truth.keys()
    s = scores(found, truth)
    print("identity on", POLICIES, "policies:", s)
    assert s["true_pairs"] > 100  # repeat customers and self-insured applicants
    assert s["precision"] >= 0.99 and s["recall"] >= 0.98, s

    # the model and its chart are saved with the run, with no customer value in them
    model = (custos_home / "identity" / f"run-{run.pk}" / "model.json").read_text()
    chart = (custos_home / "identity" / f"run-{run.pk}" / "chart.html").read_text()
    assert '"m_probability"' in model and "<svg" in chart and "name: exact" in chart
    with (book / "parties.csv").open(encoding="utf-8") as f:
        first = next(csv.DictReader(f))
    for value in (first["name"], first["id_no"], first["mobile"]):
        assert value not in model and value not in chart
    assert run.model["comparisons"] and run.persons == len(set(found.values()))

    # a second run keeps every id
    again = run_link(load)
    assert (again.persons_created, again.merges, again.splits) == (0, 0, 0)
    assert read_assignment(_export(tmp_path, "again.csv")) == found


def test_ids_survive_a_second_book(book, tmp_path, custos_home, fast):
    """The first book lacks the last 40 policies; the second has them all: the earlier parties keep
    their persons, and the new parties of a known customer join that customer's person."""
    from custos.identity.services.link import run_link

    first = tmp_path / "first"
    shutil.copytree(book, first)
    with (book / "policies.csv").open(encoding="utf-8") as f:
        late = {r["policy_no"] for r in list(csv.DictReader(f))[-40:]}
    for table in ("policies", "parties", "changes", "visits", "commissions"):
        path = first / f"{table}.csv"
        with path.open(encoding="utf-8") as f:
            rows = list(csv.reader(f))
        col = rows[0].index("policy_no")
        with path.open("w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows([rows[0], *[r for r in rows[1:] if r[col] not in late]])
    run_link(_load(first))
    before = read_assignment(_export(tmp_path, "before.csv"))
    run2 = run_link(_load(book))
    after = read_assignment(_export(tmp_path, "after.csv"))
    assert {k: after[k] for k in before} == before
    assert set(after) - set(before) and all(k[0] in late for k in set(after) - set(before))
    truth = read_assignment(book / "truth" / "persons.csv")
    joined = [k for k in set(after) - set(before) if after[k] in set(before.values())]
    assert joined, "some customer of the late policies was known from the first book"
    s = scores(after, truth)
    assert s["precision"] >= 0.99 and s["recall"] >= 0.98, s
    assert run2.persons_created == len(set(after.values()) - set(before.values()))


def test_xc_findings_follow_the_planted_conflicts(book, custos_home, fast):
    from custos.checks.models import Finding
    from custos.checks.services import run_check
    from custos.identity.services.link import run_link

    load = _load(book)
    before = run_check(load)
    assert not Finding.objects.filter(check_code__startswith="XC").exists()  # not linked yet
    run_link(load)
    run = run_check(load)
    with (book / "truth" / "defects.csv").open(encoding="utf-8") as f:
        truth = {
            (r["check"], r["policy_no"], r["role"], int(r["seq"]), r["field"])
            for r in csv.DictReader(f)
            if r["check"].startswith("XC")
        }
    found = set(
        Finding.objects.filter(check_code__startswith="XC", status="open").values_list(
            "check_code", "policy_no", "role", "seq", "field"
        )
    )
    assert {t[0] for t in truth} == {"XC01", "XC02", "XC03"}
    assert found == truth
    xc = Finding.objects.filter(check_code__startswith="XC")
    assert all(f.opened_run_id == run.pk for f in xc)
    assert all(f.proposed for f in xc), "each XC finding proposes the person's other value"
    assert {f.category for f in xc.filter(check_code="XC02")} == {"missing"}
    # the ordinary life cycle: a second check run keeps them, opens no duplicate
    again = run_check(load)
    assert Finding.objects.filter(
        check_code__startswith="XC", status="open", last_seen_run=again
    ).count() == len(truth)
    assert Finding.objects.filter(check_code__startswith="XC").count() == len(truth)
    assert before.pk < run.pk < again.pk

    # remediation offers the proposed fill on the task of the finding (read on the server)
    from custos.remediation.models import TaskFinding
    from custos.remediation.services.corrections import proposed_fill

    for fill in Finding.objects.filter(check_code="XC02", status="open"):
        task = TaskFinding.objects.get(finding=fill).task
        assert proposed_fill(task, fill.pk) == (fill.field, fill.proposed)
