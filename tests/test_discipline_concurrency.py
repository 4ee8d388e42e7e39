"""Two runs of `custos discipline propose` at once, on two PostgreSQL connections: the fact is proposed
once (the database's unique constraints decide, not the code's look-ups), and the loser reports
nothing proposed rather than failing."""

import threading

import pytest
from django.db import connection

from custos.checks.models import CheckRun
from custos.crypto import keyring
from custos.discipline import services
from custos.discipline.models import EvidenceLink, Violation
from tests.conftest import build_small_book, on_postgres, require
from tests.test_findings_support import open_finding

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def test_two_concurrent_runs_propose_a_fact_once(custos_home):
    require(on_postgres(), "this test needs PostgreSQL: SQLite serialises writers, so there is no real race")
    with keyring.editing() as data:
        keyring.ensure_data_keys(data)
    run = CheckRun.objects.create(load=build_small_book(), status=CheckRun.Status.DONE)
    for policy, code in (("P4", "PH05"), ("P1", "AD04"), ("P4", "PH07")):
        open_finding(run, policy, code=code, field="mobile")
    barrier = threading.Barrier(2)
    results: dict = {}

    def work(i):
        try:
            barrier.wait(timeout=10)
            results[i] = services.propose_from_facts()
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert all(not isinstance(r, Exception) for r in results.values()), results
    assert Violation.objects.count() == 2  # A1 for P4 and for P1
    assert EvidenceLink.objects.count() == 3  # each finding once
    proposed = sum(r.proposed["agent_contact"] + r.added["agent_contact"] for r in results.values())
    assert proposed == 3  # every finding linked by exactly one of the runs
