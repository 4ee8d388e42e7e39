"""synth → load → check with the real DuckDB engine: the findings in the database are the engine's."""

import pyarrow.compute as pc
import pytest

from custos.checks.models import CheckRun, Finding

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

IDENTITY = ["check", "policy_no", "role", "seq", "field"]


@pytest.fixture
def loaded(tmp_path, custos_home):
    from custos.book.services import load_book
    from custos.synth.generator import generate_book

    generate_book(tmp_path / "book", policies=300, seed=7, workers=1)
    load = load_book(tmp_path / "book")
    assert load.status == "done", load.errors
    return load


def test_check_a_synthetic_book_then_again(loaded):
    from custos.checks.engine import run_checks
    from custos.checks.services import run_check

    expected = run_checks(loaded.snapshot_path)
    identities = {tuple(r[c] for c in IDENTITY) for r in expected.select(IDENTITY).to_pylist()}
    assert len(identities) > 50  # the synthetic book has defects of many kinds

    run = run_check()
    assert run.status == CheckRun.Status.DONE and run.load == loaded
    assert run.findings_opened == Finding.objects.count() == len(identities) == run.findings_found
    stored = set(Finding.objects.values_list("check_code", "policy_no", "role", "seq", "field"))
    assert stored == identities
    assert run.policies_checked == 300
    assert set(Finding.objects.values_list("category", flat=True)) <= {"missing", "false", "suspicious"}
    assert not Finding.objects.filter(channel="").exclude(role="policy").exists()
    assert sum(run.by_check.values()) == len(identities)
    expected_by_check = expected.group_by("check").aggregate([("policy_no", "count")])
    assert set(run.by_check) == set(pc.unique(expected_by_check["check"]).to_pylist())

    again = run_check()
    assert (again.findings_opened, again.findings_closed) == (0, 0)
    assert again.findings_kept == len(identities) == Finding.objects.filter(status="open").count()
