"""Findings last across check runs: opened, kept, closed, never duplicated (docs/findings.md)."""

import pytest
from django.db import IntegrityError, transaction

from custos.checks import services
from custos.checks.models import CheckRun, Finding
from custos.checks.services import CheckError, run_check
from tests.test_findings_support import (
    CHECKS,
    FakeCheck,
    FakeSettings,
    findings_table,
    install_fakes,
    make_book,
    make_load,
)

pytestmark = pytest.mark.django_db

BAD_ID = ("ID03", "P1", "applicant", 1, "id_no", "440106199001011235")
NO_ID = ("ID01", "P2", "insured", 1, "id_no", "")
BAD_MOBILE = ("PH02", "P3", "applicant", 1, "mobile", "1381234567")
NO_INSURED = ("SC04", "P4", "policy", 0, "policy", "")


@pytest.fixture
def book(tmp_path):
    load = make_load(tmp_path)
    make_book(load)
    return load


def open_identities():
    return set(
        Finding.objects.filter(status="open").values_list("check_code", "policy_no", "role", "seq", "field")
    )


def test_first_run_opens_every_finding_with_its_run_and_policy_attributes(book, monkeypatch):
    install_fakes(monkeypatch, [findings_table([BAD_ID, NO_ID, BAD_MOBILE, NO_INSURED])])
    run = run_check()
    assert run.status == CheckRun.Status.DONE and run.load == book
    assert (run.findings_found, run.findings_opened, run.findings_kept, run.findings_closed) == (4, 4, 0, 0)
    assert run.findings_open == 4
    assert run.by_category == {"false": 2, "missing": 2}
    assert run.by_check == {"ID01": 1, "ID03": 1, "PH02": 1, "SC04": 1}
    assert (run.policies_checked, run.parties_checked) == (4, 12)
    assert (run.policies_missing, run.policies_false, run.policies_untrue) == (2, 2, 4)
    f = Finding.objects.get(check_code="ID03")
    assert (f.category, f.severity, f.status, f.value) == ("false", "high", "open", "440106199001011235")
    assert f.opened_run == run and f.last_seen_run == run and f.closed_run is None
    assert (f.channel, f.branch_code, f.agent_no, f.partner_code) == ("bancassurance", "GZ", "A1", "BANK1")
    assert f.settings_fingerprint == "fp-"
    policy_level = Finding.objects.get(check_code="SC04")
    assert (policy_level.role, policy_level.seq, policy_level.category) == ("policy", 0, "missing")


def test_second_run_keeps_what_still_fails_closes_what_passes_and_opens_no_duplicate(book, monkeypatch):
    install_fakes(
        monkeypatch,
        [
            findings_table([BAD_ID, NO_ID, BAD_MOBILE]),
            findings_table([BAD_ID[:5] + ("440106199001011236",), NO_ID]),  # mobile corrected
            findings_table([BAD_ID, NO_ID]),
        ],
    )
    first = run_check()
    second = run_check()
    assert (second.findings_opened, second.findings_kept, second.findings_closed) == (0, 2, 1)
    assert Finding.objects.count() == 3
    kept = Finding.objects.get(check_code="ID03")
    assert kept.opened_run == first and kept.last_seen_run == second and kept.status == "open"
    assert kept.value == "440106199001011236"  # the value the latest run saw
    closed = Finding.objects.get(check_code="PH02")
    assert (closed.status, closed.closed_run, closed.close_reason) == ("closed", second, "passed")
    assert closed.last_seen_run == first and closed.closed_at is not None
    third = run_check()
    assert (third.findings_opened, third.findings_kept, third.findings_closed) == (0, 2, 0)
    assert Finding.objects.count() == 3


def test_a_closed_identity_that_fails_again_is_a_new_open_row_pointing_at_the_old_one(book, monkeypatch):
    install_fakes(
        monkeypatch, [findings_table([BAD_MOBILE]), findings_table([]), findings_table([BAD_MOBILE])]
    )
    run_check()
    second = run_check()
    third = run_check()
    assert third.findings_opened == 1
    rows = list(Finding.objects.filter(check_code="PH02").order_by("id"))
    assert [r.status for r in rows] == ["closed", "open"]
    assert rows[0].closed_run == second
    assert rows[1].opened_run == third and rows[1].recurs == rows[0]


def test_the_database_refuses_a_second_open_row_for_one_identity(book, monkeypatch):
    install_fakes(monkeypatch, [findings_table([BAD_ID])])
    run_check()
    f = Finding.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        Finding.objects.create(
            check_code=f.check_code,
            policy_no=f.policy_no,
            role=f.role,
            seq=f.seq,
            field=f.field,
            category=f.category,
            severity=f.severity,
            opened_run=f.opened_run,
            last_seen_run=f.last_seen_run,
            opened_at=f.opened_at,
        )
    # a closed row of the same identity is allowed (history)
    Finding.objects.filter(pk=f.pk).update(status="closed")
    Finding.objects.create(
        check_code=f.check_code,
        policy_no=f.policy_no,
        role=f.role,
        seq=f.seq,
        field=f.field,
        category=f.category,
        severity=f.severity,
        opened_run=f.opened_run,
        last_seen_run=f.last_seen_run,
        opened_at=f.opened_at,
    )


def test_a_disabled_check_does_not_close_its_findings(book, monkeypatch):
    install_fakes(monkeypatch, [findings_table([BAD_ID, BAD_MOBILE]), findings_table([BAD_ID])])
    run_check()
    second = run_check(settings=FakeSettings(disabled={"PH02"}))
    assert second.enabled_checks == ["ID01", "ID03", "PH06", "SC04"]
    assert second.settings == {"disabled": ["PH02"]} and second.settings_fingerprint == "fp-PH02"
    assert second.findings_closed == 0
    assert open_identities() == {BAD_ID[:5], BAD_MOBILE[:5]}
    assert Finding.objects.get(check_code="PH02").last_seen_run != second


def test_findings_of_a_party_or_policy_gone_from_the_book_close_even_when_their_check_is_off(
    book, monkeypatch
):
    from custos.book.models import Party, Policy

    install_fakes(monkeypatch, [findings_table([BAD_ID, BAD_MOBILE, NO_INSURED]), findings_table([])])
    run_check()
    Party.objects.filter(policy_no="P1", role="applicant").update(gone_load=book)
    Policy.objects.filter(policy_no="P4").update(gone_load=book)
    second = run_check(settings=FakeSettings(disabled={"ID03", "PH02", "SC04"}))
    assert second.findings_closed == 2
    assert dict(Finding.objects.filter(status="closed").values_list("check_code", "close_reason")) == {
        "ID03": "gone",
        "SC04": "gone",
    }
    assert open_identities() == {BAD_MOBILE[:5]}


def test_repeated_identities_in_the_engine_result_are_one_finding(book, monkeypatch):
    install_fakes(monkeypatch, [findings_table([BAD_ID, BAD_ID, BAD_MOBILE])])
    run = run_check()
    assert run.findings_found == 2 and Finding.objects.count() == 2


def test_a_check_the_catalogue_does_not_know_fails_the_run_and_changes_nothing(book, monkeypatch):
    install_fakes(monkeypatch, [findings_table([BAD_ID, ("ZZ99", "P1", "applicant", 1, "name", "x")])])
    with pytest.raises(CheckError, match="ZZ99"):
        run_check()
    run = CheckRun.objects.get()
    assert run.status == "failed" and "ZZ99" in run.error
    assert Finding.objects.count() == 0


def test_policy_attributes_follow_the_book(book, monkeypatch):
    from custos.book.models import Policy

    install_fakes(monkeypatch, [findings_table([BAD_ID]), findings_table([BAD_ID])])
    run_check()
    Policy.objects.filter(policy_no="P1").update(branch_code="SZ", agent_no="A9")
    run_check()
    f = Finding.objects.get()
    assert (f.branch_code, f.agent_no) == ("SZ", "A9")


def test_no_load_is_a_one_line_error(db, monkeypatch):
    install_fakes(monkeypatch, [])
    with pytest.raises(CheckError, match="no book has been loaded"):
        run_check()


def test_explicit_load_engine_progress_and_user(book, monkeypatch, django_user_model):
    calls = install_fakes(monkeypatch, [findings_table([BAD_ID])])
    user = django_user_model.objects.create_user("u1")
    seen = []
    run = run_check(
        book.pk, engine="spark", progress=lambda f, note: seen.append((round(f, 2), note)), user=user
    )
    assert calls[0]["engine"] == "spark" and str(calls[0]["snapshot_dir"]) == book.snapshot_path
    assert run.engine == "spark" and run.created_by == user
    assert seen[0] == (0.0, "checking") and seen[-1] == (1.0, "done")
    assert (0.45, "running checks") in seen and (0.9, "done checking") in seen
    with pytest.raises(CheckError, match="unknown engine"):
        run_check(engine="pandas")


def test_a_large_result_is_reconciled_set_wise(book, monkeypatch):
    rows = [("PH06", f"P{i % 4 + 1}", "beneficiary", i, "mobile", f"1{i:010d}") for i in range(5000)]
    half = rows[::2]
    install_fakes(monkeypatch, [findings_table(rows), findings_table(half)])
    run_check()
    second = run_check()
    assert (second.findings_kept, second.findings_closed, second.findings_opened) == (2500, 2500, 0)
    assert services.Finding.objects.filter(status="open").count() == 2500


def test_the_proposed_value_is_kept_and_refreshed(book, monkeypatch):
    import pyarrow as pa

    def with_proposed(rows, proposed):
        t = findings_table(rows)
        return t.append_column("proposed", pa.array(proposed, pa.string()))

    legacy = ("ID10", "P1", "insured", 1, "id_no", "440106900101123")
    install_fakes(
        monkeypatch, [with_proposed([legacy], ["440106199001011234"]), with_proposed([legacy], [None])]
    )
    monkeypatch.setattr(services, "catalogue", lambda: [*CHECKS, FakeCheck("ID10", "missing", "medium")])
    run_check()
    assert Finding.objects.get().proposed == "440106199001011234"
    run_check()
    assert Finding.objects.get().proposed == ""


def test_a_findings_detail_is_stored_and_refreshed_with_it(book, monkeypatch):
    """ID09's ranking (the engine's ``detail`` column) opens with the finding and follows the book."""
    import pyarrow as pa

    def with_detail(detail):
        t = findings_table([("ID03", "P1", "applicant", 1, "id_no", "440106199001011235")])
        return t.append_column("detail", pa.array([detail], pa.string()))

    install_fakes(
        monkeypatch,
        [
            with_detail("rank=2/2 birth=0 sex=0 earliest=0 rows=2"),
            with_detail("rank=1/2 birth=1 sex=1 earliest=1 rows=2"),
        ],
    )
    run_check()
    assert Finding.objects.get(check_code="ID03").detail == "rank=2/2 birth=0 sex=0 earliest=0 rows=2"
    run_check()
    assert (
        Finding.objects.get(status="open", check_code="ID03").detail
        == "rank=1/2 birth=1 sex=1 earliest=1 rows=2"
    )
    assert "出生日期与身份证号码一致" in services.describe_detail(
        Finding.objects.get(check_code="ID03").detail
    )
