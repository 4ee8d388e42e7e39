"""The task lists run a fixed number of queries whatever the number of tasks (no N+1): paginated,
select_related, counted once."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from custos.remediation import services as svc
from custos.remediation.models import Task
from tests.test_remediation import finding, keys, new_run, people  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


def queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        resp = client.get(url)
    assert resp.status_code == 200, url
    return [q["sql"] for q in ctx.captured_queries]


def test_my_tasks_query_count_does_not_grow_with_tasks(small_book, people):  # noqa: F811
    run = new_run(small_book)
    for p in ("P1", "P2", "P3", "P4"):
        for role in ("applicant", "insured"):
            finding(run, p, role=role)
    svc.sync_tasks(run)
    cs = people["cs"]
    Task.objects.filter(pk=Task.objects.order_by("id").first().pk).update(assignee=cs)
    client = Client()
    client.force_login(cs)
    for url in ("/remediation/", "/remediation/team/", "/remediation/assign/"):
        few = queries(client, url)
        Task.objects.update(assignee=cs)
        many = queries(client, url)
        Task.objects.exclude(pk=Task.objects.order_by("id").first().pk).update(assignee=None)
        assert len(many) == len(few), (url, many)
    assert len(few) <= 12, few


def test_task_page_query_count_does_not_grow_with_history(small_book, people):  # noqa: F811
    run = new_run(small_book)
    finding(run, "P1")
    finding(run, "P1", code="PH02")
    svc.sync_tasks(run)
    task = Task.objects.get()
    cs = people["cs"]
    client = Client()
    client.force_login(cs)
    svc.record_attempt(task, cs, "phone", "13800138000", "no_answer")
    few = queries(client, f"/remediation/tasks/{task.pk}/")
    for _ in range(5):
        task.refresh_from_db()
        svc.record_attempt(task, people["cs2"], "sms", "13800138000", "sent")
    task.refresh_from_db()
    c = svc.propose_correction(task, cs, "email", "a@example.com")
    svc.review_correction(c, people["cs2"], approve=False)
    many = queries(client, f"/remediation/tasks/{task.pk}/")
    assert len(many) == len(few), "\n".join(many)
