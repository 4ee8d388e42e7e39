"""What a remediation page or endpoint sends back when it refuses: never a value the reader did not
send and could not unmask (issue 16 item 1), and a clear 400 for input it cannot read (item 5)."""

import datetime as dt

import pytest
from django.test import Client

from custos.api.models import ApiToken
from custos.audit.models import AuditEntry
from custos.book.models import Party
from custos.remediation import services as svc
from custos.remediation.models import Correction, Task
from tests.test_remediation import finding, keys, new_run, people  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


def login(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def unmask_entries() -> int:
    return AuditEntry.objects.filter(action="unmask").count()


@pytest.mark.parametrize(
    "code,field,proposed",
    [("ID10", "id_no", "420120198109094027"), ("ID06", "birth_date", "1981-09-09")],
)
def test_a_conflict_on_the_proposed_value_does_not_show_it(small_book, people, code, field, proposed):  # noqa: F811
    """The agent (who may not unmask) adopts identity's proposed value with a stale version: the 409
    page keeps the reference (the finding) and the request number, never the value itself."""
    run = new_run(small_book)
    f = finding(run, "P1", code=code, field=field, proposed=proposed)
    svc.sync_tasks(run)
    task = Task.objects.get()
    before = unmask_entries()
    r = login(people["agent"]).post(
        f"/remediation/tasks/{task.pk}/corrections/",
        {"proposed_from": f.pk, "version": 0, "request_no": "BQ-77"},
    )
    assert r.status_code == 409 and "此任务已被他人修改" in r.text
    assert proposed not in r.text and proposed.replace("-", "") not in r.text
    # the finding's button is offered again, with what the agent typed
    assert f'name="proposed_from" value="{f.pk}"' in r.text and 'value="BQ-77"' in r.text
    assert not Correction.objects.exists() and unmask_entries() == before


def test_a_conflict_on_review_does_not_show_the_proposed_value(small_book, people):  # noqa: F811
    """Approving a correction whose party changed since: the 409 page (to a reviewer without an unmask
    grant) names the field, not the proposed value; the API's answer neither."""
    run = new_run(small_book)
    finding(run, "P1", code="ID10", field="id_no")
    svc.sync_tasks(run)
    task = Task.objects.get()
    new = "440106198005061235"
    c = svc.propose_correction(task, people["agent"], "id_no", new)
    Party.objects.filter(policy_no="P1", role="applicant").update(id_no="440106198005069999")
    before = unmask_entries()
    for user in (people["cs"], people["manager"]):  # may unmask (without a grant) / may not
        r = login(user).post(
            f"/remediation/tasks/{task.pk}/corrections/{c.pk}/review/", {"decision": "approve"}
        )
        assert r.status_code == 409 and "客户信息在提交更正后已被修改" in r.text, r.status_code
        assert new not in r.text and "440106198005069999" not in r.text
    token = ApiToken.issue(people["cs"], "t")[1]
    r = Client(HTTP_AUTHORIZATION=f"Bearer {token}").post(
        f"/api/v1/remediation/corrections/{c.pk}/review", {"approve": True}, content_type="application/json"
    )
    assert r.status_code == 409 and new not in r.text
    assert Correction.objects.get().status == "proposed" and unmask_entries() == before


def test_what_the_caller_typed_is_kept_on_a_conflict(small_book, people):  # noqa: F811
    """The caller's own input is theirs to see again: it is kept, nothing else."""
    run = new_run(small_book)
    finding(run, "P1", code="NM02", field="name")
    svc.sync_tasks(run)
    task = Task.objects.get()
    r = login(people["agent"]).post(
        f"/remediation/tasks/{task.pk}/corrections/",
        {"field": "email", "new_value": "typed@example.org", "version": 0, "note": "n1"},
    )
    assert r.status_code == 409 and 'value="typed@example.org"' in r.text and 'value="n1"' in r.text


@pytest.mark.parametrize("version", ["-1", "abc", "1.5", "²", "99999999999999999999"])
def test_a_version_that_is_not_a_version_is_refused(small_book, people, version):  # noqa: F811
    run = new_run(small_book)
    finding(run, "P1", code="NM02", field="name")
    svc.sync_tasks(run)
    task = Task.objects.get()
    agent = login(people["agent"])
    url = f"/remediation/tasks/{task.pk}"
    for path, data in (
        ("corrections/", {"field": "email", "new_value": "x@example.org"}),
        ("attempts/", {"method": "phone", "contact": "13900000000", "outcome": "reached"}),
        ("verify/", {"contact": "13900000000", "success": "1"}),
        ("close/", {"reason": "x"}),
    ):
        r = agent.post(f"{url}/{path}", {**data, "version": version})
        assert r.status_code == 400 and "版本" in r.text, (path, r.status_code)
    assert not Correction.objects.exists() and not task.attempts.exists()
    assert Task.objects.get().version == task.version


@pytest.mark.parametrize("version", [-1, 2**31, 10**30])
def test_api_refuses_a_negative_or_huge_version(small_book, people, version):  # noqa: F811
    run = new_run(small_book)
    finding(run, "P1", code="NM02", field="name")
    svc.sync_tasks(run)
    task = Task.objects.get()
    api = Client(HTTP_AUTHORIZATION=f"Bearer {ApiToken.issue(people['agent'], 't')[1]}")
    base = f"/api/v1/remediation/tasks/{task.pk}"
    r = api.post(f"{base}/corrections", {"field": "email", "new_value": "x@example.org", "version": version})
    assert r.status_code == 400 and r.json()["detail"] == "版本号须是 0 到 2147483647 之间的整数。", r.content
    r = api.post(f"{base}/attempts", {"method": "phone", "contact": "13900000000", "outcome": "reached",
                                      "version": version}, content_type="application/json")  # fmt: skip
    assert r.status_code == 400 and r.json()["detail"] == "版本号须是 0 到 2147483647 之间的整数。", r.content
    for path, body in (("verify", {"contact": "1", "success": True}), ("close", {})):
        r = api.post(f"{base}/{path}", {**body, "version": version}, content_type="application/json")
        assert r.status_code == 400, (path, r.content)
    assert not Correction.objects.exists() and not task.attempts.exists()


@pytest.mark.parametrize("tasks", ["99999999999999999999999", "2147483648", "1 ²", "-5"])
def test_letters_refuse_task_numbers_that_are_not_task_numbers(small_book, people, tasks):  # noqa: F811
    r = login(people["compliance"]).post("/remediation/letters/", {"kind": "customer", "tasks": tasks})
    assert r.status_code == 400 and "任务编号" in r.text


def test_assign_refuses_task_numbers_that_are_not_task_numbers(small_book, people):  # noqa: F811
    r = login(people["compliance"]).post("/remediation/assign/", {"task": ["²"], "to": "mgr"})
    assert r.status_code == 400 and "任务编号" in r.text


def test_a_closed_date_field_still_round_trips(small_book, people):  # noqa: F811
    """The birth date adopted from identity is applied as a date (the reference path works end to end)."""
    run = new_run(small_book)
    f = finding(run, "P1", code="ID06", field="birth_date", proposed="1981-09-09")
    svc.sync_tasks(run)
    task = Task.objects.get()
    # the ID number on file says 1981-09-09 (identity's proposal follows it; the checks accept it)
    Party.objects.filter(policy_no="P1", role="applicant").update(id_no="420120198109094027")
    r = login(people["agent"]).post(
        f"/remediation/tasks/{task.pk}/corrections/", {"proposed_from": f.pk, "version": task.version}
    )
    assert r.status_code == 302
    svc.review_correction(Correction.objects.get(), people["cs"], approve=True)
    assert Party.objects.get(policy_no="P1", role="applicant").birth_date == dt.date(1981, 9, 9)
