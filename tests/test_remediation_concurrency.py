"""Two people correct the same party at once, on two PostgreSQL connections: the second gets a clear
conflict message, and what they typed comes back with it (nothing lost, nothing half-saved)."""

import threading

import pytest
from django.db import connection
from django.utils import timezone

from custos.checks.models import CheckRun, Finding
from custos.crypto import keyring
from custos.remediation import services as svc
from custos.remediation.models import Correction, Task
from tests.conftest import build_small_book, make_user, on_postgres, require

# The SQLite run of `make test` deselects `postgres` tests; the PostgreSQL run executes them.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def test_second_concurrent_correction_gets_a_conflict(custos_home, settings):
    require(on_postgres(), "this test needs PostgreSQL: SQLite serialises writers, so there is no real race")
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with keyring.editing() as data:
        keyring.ensure_data_keys(data)
    load = build_small_book()
    run = CheckRun.objects.create(load=load)
    Finding.objects.create(check_code="NM02", policy_no="P1", role="applicant", seq=1, field="name",
                           category="false", severity="high", opened_run=run, last_seen_run=run,
                           opened_at=timezone.now(), channel="agency", branch_code="GZ")  # fmt: skip
    svc.sync_tasks(run)
    task = Task.objects.get()
    users = [make_user("cs_a", "customer_service"), make_user("cs_b", "customer_service")]
    seen = task.version
    barrier = threading.Barrier(2)
    results: dict = {}

    def work(i, user, field, value):
        try:
            t = Task.objects.get(pk=task.pk)
            barrier.wait(timeout=10)
            results[i] = svc.propose_correction(t, user, field, value, version=seen)
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            results[i] = exc
        finally:
            connection.close()

    threads = [
        threading.Thread(target=work, args=(0, users[0], "name", "张山峰")),
        threading.Thread(target=work, args=(1, users[1], "email", "zhang.san@example.com")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    won = [r for r in results.values() if isinstance(r, Correction)]
    lost = [r for r in results.values() if isinstance(r, svc.Conflict)]
    assert len(won) == 1 and len(lost) == 1, results
    assert str(lost[0]) == "此任务已被他人修改，您的操作未保存；您填写的内容已保留，请刷新后核对再提交。"
    assert lost[0].kept["new_value"] in ("张山峰", "zhang.san@example.com")
    assert Correction.objects.count() == 1
    task.refresh_from_db()
    assert task.version == seen + 1 and task.status == "review"
