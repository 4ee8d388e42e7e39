"""The scope matrix for remediation: every remediation page and API operation × every role × a real
task in the caller's scope (P4) and one outside it (P3), with its correction, evidence, sample and
letter batch.

tests/test_access_matrix.py builds the world (the small book, one finding in scope and one out, a
user and an API token per role) and checks remediation routes only with records that do not exist;
here the records are real. Rules: a role that does not work remediation tasks gets 403 everywhere
(the same answer in and out of scope); for the others, a record outside the scope is a 404 — the
answer for a record that does not exist — never a 200 or a refusal that tells it exists; in scope,
a page is 200 and an action is done or refused with a reason (never 404, never 500). The routes come
from the URL resolver and the OpenAPI schema: a new remediation route fails this test until it is
classified below.
"""

from __future__ import annotations

import json
import re

import pytest
from django.utils import timezone

from custos.access.capabilities import roles_with
from custos.access.models import Role
from custos.remediation import services as svc
from custos.remediation.conf import USER_ROLES
from custos.remediation.models import LetterBatch, Sample, Task
from tests.conftest import make_user
from tests.test_access_matrix import ROLES, api_operations, url_patterns, world  # noqa: F401
from tests.test_access_matrix import assert_no_details as _no_details
from tests.test_remediation import PDF, keys  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

USERS = frozenset(USER_ROLES)
MANAGERS = frozenset(svc.MANAGER_ROLES)
PROGRESS = roles_with("task.progress")  # the task workers and the auditor (read-only)
ACTED = (200, 201, 302, 400, 403, 409, 422)  # done, or refused with a reason — the record exists

# route → (kind, record, method, in-scope answers). kind: "roles" (a list/overview: USERS get the
# answers, others 403) or "record" (a scoped record: in scope the answers, out of scope 404).
PAGES = {
    "remediation/": ("roles", None, "GET", (200,)),
    "remediation/team/": ("roles", None, "GET", (200,)),
    "remediation/assign/": ("managers", None, "GET", (200,)),
    "remediation/letters/": ("roles", None, "GET", (200,)),
    "remediation/progress/": ("progress", None, "GET", (200,)),
    "remediation/progress.xlsx": ("progress", None, "GET", (200,)),
    "remediation/samples/": ("roles", None, "GET", (200,)),
    "remediation/tasks/<int:pk>/": ("record", "task", "GET", (200,)),
    "remediation/tasks/<int:pk>/attempts/": ("record", "task", "POST", ACTED),
    "remediation/tasks/<int:pk>/corrections/": ("record", "task", "POST", ACTED),
    "remediation/tasks/<int:pk>/corrections/<int:cid>/review/": ("record", "correction", "POST", ACTED),
    # evidence: reviewers and the uploader only (test_evidence_is_for_reviewers_and_its_uploader)
    "remediation/tasks/<int:pk>/corrections/<int:cid>/evidence/": ("record", "correction", "GET", (200, 403)),
    "remediation/tasks/<int:pk>/verify/": ("record", "task", "POST", ACTED),
    "remediation/tasks/<int:pk>/close/": ("record", "task", "POST", ACTED),
    "remediation/letters/<int:pk>/": ("record", "batch", "GET", (200,)),
    "remediation/samples/<int:pk>/": ("record", "sample", "POST", (302,)),
}
API = {
    ("get", "/api/v1/remediation/tasks"): ("roles", None, None, (200,)),
    ("get", "/api/v1/remediation/progress"): ("progress", None, None, (200,)),
    ("get", "/api/v1/remediation/notices"): ("roles", None, None, (200,)),
    ("get", "/api/v1/remediation/samples"): ("roles", None, None, (200,)),
    ("post", "/api/v1/remediation/samples"): ("roles", None, {"share": 0.5}, ACTED),
    ("post", "/api/v1/remediation/assign"): ("assign", None, None, (200, 403)),
    ("post", "/api/v1/remediation/letters"): ("letters", None, None, (200,)),
    ("post", "/api/v1/remediation/partner-notices"): ("roles", None, {"partner": "BK1", "format": "xlsx"}, (200,)),
    ("get", "/api/v1/remediation/tasks/{pk}"): ("record", "task", None, (200,)),
    ("post", "/api/v1/remediation/tasks/{pk}/attempts"): (
        "record", "task", {"method": "phone", "contact": "13900000000", "outcome": "no_answer"}, (201,),
    ),
    ("post", "/api/v1/remediation/tasks/{pk}/corrections"): ("record", "task", "multipart", ACTED),
    ("post", "/api/v1/remediation/tasks/{pk}/verify"): (
        "record", "task", {"contact": "13900000000", "success": True}, ACTED,
    ),
    ("post", "/api/v1/remediation/tasks/{pk}/close"): ("record", "task", {}, ACTED),
    ("post", "/api/v1/remediation/corrections/{cid}/review"): ("record", "correction", {"approve": False}, ACTED),
    ("post", "/api/v1/remediation/samples/{sid}"): ("record", "sample", {"passed": True}, ACTED),
}  # fmt: skip


def assert_no_details(response, context):
    """The answer names nothing of the out-of-scope record (text answers; a PDF or XLSX is binary —
    the letters' contents are checked in test_remediation_web)."""
    ctype = response.get("Content-Type", "")
    if ctype.startswith(("text/", "application/json")):
        _no_details(response, context)


def remediation_routes():
    return [r for r in url_patterns() if r.startswith("remediation/")]


def remediation_operations():
    return [op for op in api_operations() if op[1].startswith("/api/v1/remediation")]


def test_every_remediation_route_is_classified():
    assert sorted(set(remediation_routes()) - set(PAGES)) == []
    assert sorted(set(remediation_operations()) - set(API)) == []
    assert not set(PAGES) - set(remediation_routes()) and not set(API) - set(remediation_operations())


@pytest.fixture
def rworld(world):  # noqa: F811
    """world + a task per party with findings (P3 out of every role's scope, P4 in), each with a
    proposed correction carrying evidence, a sample; a letter batch of P4 per user and one of P3."""
    from custos.checks.models import CheckRun

    svc.sync_tasks(CheckRun.objects.get())
    tasks = {p: Task.objects.get(policy_no=p) for p in ("P3", "P4")}
    proposer = make_user("r-proposer", "compliance")  # whole company
    corrections, samples = {}, {}
    for p, t in tasks.items():
        ev = svc.store_evidence("e.pdf", PDF, proposer)
        corrections[p] = svc.propose_correction(t, proposer, "email", f"{p.lower()}@example.com", evidence=ev)
        samples[p] = Sample.objects.create(task=t, drawn_at=timezone.now(), closer=proposer)
        t.refresh_from_db()
    now = timezone.now()
    batches = {
        role: LetterBatch.objects.create(kind="customer", created_at=now, created_by=user,
                                         task_ids=[tasks["P4"].pk], count=1)
        for role, user in world["users"].items()
    }  # fmt: skip
    foreign = LetterBatch.objects.create(kind="customer", created_at=now, created_by=proposer,
                                         task_ids=[tasks["P3"].pk], count=1)  # fmt: skip
    return {**world, "tasks": tasks, "corrections": corrections, "samples": samples, "batches": batches,
            "foreign_batch": foreign}  # fmt: skip


def ids(rw, role, record, policy_no) -> dict:
    task = rw["tasks"][policy_no]
    out = {"pk": task.pk}
    if record == "correction":
        out["cid"] = rw["corrections"][policy_no].pk
    elif record == "sample":
        out["pk"] = out["sid"] = rw["samples"][policy_no].pk
    elif record == "batch":
        out["pk"] = (rw["batches"][role] if policy_no == "P4" else rw["foreign_batch"]).pk
    return out


def fill(route: str, values: dict) -> str:
    return "/" + re.sub(r"<int:(\w+)>", lambda m: str(values[m.group(1)]), route)


def fill_api(path: str, values: dict) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), path)


@pytest.mark.parametrize("role", ROLES)
def test_pages(client, rworld, role):
    client.force_login(rworld["users"][role])
    for route, (kind, record, method, ok) in PAGES.items():
        ctx = f"{role} {method} /{route}"

        def call(path, method=method):
            return client.post(path) if method == "POST" else client.get(path)

        if kind in ("roles", "managers", "progress"):
            resp = call(fill(route, {}))
            allowed = {"roles": USERS, "managers": MANAGERS & USERS, "progress": PROGRESS}[kind]
            expected = ok if role in allowed else (403,)
            assert resp.status_code in expected, f"{ctx}: {resp.status_code}"
            assert_no_details(resp, ctx)
            continue
        inside = call(fill(route, ids(rworld, role, record, "P4")))
        outside = call(fill(route, ids(rworld, role, record, "P3")))
        if role in USERS:
            assert inside.status_code in ok, f"{ctx} in scope: {inside.status_code}"
            assert outside.status_code == 404, f"{ctx} out of scope: {outside.status_code}"
        else:
            assert (inside.status_code, outside.status_code) == (403, 403), f"{ctx}"
        assert_no_details(outside, ctx + " out of scope")
    # nothing outside the scope was changed by any of it
    p3 = Task.objects.get(pk=rworld["tasks"]["P3"].pk)
    assert (p3.status, p3.version) == (rworld["tasks"]["P3"].status, rworld["tasks"]["P3"].version)
    assert Sample.objects.get(pk=rworld["samples"]["P3"].pk).result == "pending"


@pytest.mark.parametrize("role", ROLES)
def test_api(client, rworld, role):
    from django.core.files.uploadedfile import SimpleUploadedFile

    auth = {"HTTP_AUTHORIZATION": f"Bearer {rworld['tokens'][role]}"}

    def call(method, path, body):
        if method == "get":
            return client.get(path, **auth)
        if body == "multipart":
            data = {"field": "email", "new_value": "new@example.com",
                    "evidence": SimpleUploadedFile("e.pdf", PDF, content_type="application/pdf")}  # fmt: skip
            return client.post(path, data, **auth)
        return client.post(path, json.dumps(body or {}), content_type="application/json", **auth)

    for (method, path), (kind, record, body, ok) in API.items():
        ctx = f"{role} {method.upper()} {path}"
        if kind in ("roles", "assign", "letters", "progress"):
            if kind == "assign":
                body = {"tasks": [rworld["tasks"]["P4"].pk], "to": rworld["users"][role].username}
            elif kind == "letters":
                body = {"tasks": [rworld["tasks"]["P4"].pk]}
            resp = call(method, path, body)
            expected = ok if role in (PROGRESS if kind == "progress" else USERS) else (403,)
            assert resp.status_code in expected, f"{ctx}: {resp.status_code} {resp.content[:200]}"
            assert_no_details(resp, ctx)
            if kind in ("assign", "letters") and role in USERS:  # a P3 task in the list: refused, no detail
                body = {**body, "tasks": [rworld["tasks"]["P3"].pk]}
                resp = call(method, path, body)
                assert resp.status_code in (400, 403), f"{ctx} out of scope: {resp.status_code}"
                assert_no_details(resp, ctx + " out of scope")
            continue
        inside = call(method, fill_api(path, ids(rworld, role, record, "P4")), body)
        outside = call(method, fill_api(path, ids(rworld, role, record, "P3")), body)
        if role in USERS:
            assert inside.status_code in ok, f"{ctx} in scope: {inside.status_code} {inside.content[:300]}"
            assert outside.status_code == 404, f"{ctx} out of scope: {outside.status_code}"
        else:
            assert (inside.status_code, outside.status_code) == (403, 403), ctx
        assert_no_details(outside, ctx + " out of scope")
    p3 = Task.objects.get(pk=rworld["tasks"]["P3"].pk)
    assert (p3.status, p3.version) == (rworld["tasks"]["P3"].status, rworld["tasks"]["P3"].version)


def test_roles_outside_remediation_do_not_see_the_link(client, rworld):
    for role, user in rworld["users"].items():
        client.force_login(user)
        nav = re.search(r'<nav class="mainnav">.*?</nav>', client.get("/").content.decode(), re.S).group(0)
        assert ('href="/remediation/"' in nav) == (role in USERS), role
    assert Role.AUDITOR not in USERS and Role.AGENT in USERS


@pytest.mark.parametrize("role", sorted(USERS))
def test_evidence_is_for_reviewers_and_its_uploader(client, rworld, role):
    """An evidence file is the customer's signed form in clear: in scope, the roles that review
    corrections read it (the read is logged), the others are refused, as is everyone out of scope."""
    from custos.access.capabilities import roles_with

    client.force_login(rworld["users"][role])
    path = fill(
        "remediation/tasks/<int:pk>/corrections/<int:cid>/evidence/", ids(rworld, role, "correction", "P4")
    )
    resp = client.get(path)
    assert resp.status_code == (200 if role in roles_with("task.review") else 403)
    if resp.status_code == 403:
        assert PDF not in resp.content
