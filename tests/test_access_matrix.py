"""The scope matrix: every URL pattern and every API operation × every role × an in-scope and an
out-of-scope record.

The routes come from Django's URL resolver and the API's OpenAPI schema, so a new page or endpoint is
in the matrix the moment it exists, and this test fails until it is classified below. Rules:

- a record outside the caller's scope is a 404 — the same answer as a record that does not exist —
  never a 200 and never a 403 that tells the record exists;
- a page or endpoint a role may not use at all is a 403 (or 404) without details of any record;
- nothing answers 500.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import pytest
from django.urls import URLResolver, get_resolver
from django.utils import timezone

from custos.access.capabilities import OUTSIDE_ROLES
from custos.access.models import Role
from custos.access.unmask import can_unmask
from custos.api.models import ApiToken
from tests.conftest import build_small_book, make_user

pytestmark = pytest.mark.django_db

ROLES = list(Role.values)
# Roles outside the company (an association's members, custos.blacklist) reach their own API only:
# the matrix below is the company's roles'; test_outside_roles_reach_nothing_else is theirs.
COMPANY_ROLES = [r for r in ROLES if r not in OUTSIDE_ROLES]
# Each role's scope holds P4 (GZ, bancassurance, agent A1, partner BK1) and not P3 (BJ, agency, A2).
SCOPES = {
    Role.COMPLIANCE: {"branch_code": "GD"},
    Role.CUSTOMER_SERVICE: {"branch_code": "GZ"},
    Role.CHANNEL_MANAGER: {"channel": "bancassurance"},
    Role.AGENT: {"staff_no": "A1"},
    Role.PARTNER_STAFF: {"partner_code": "BK1"},
    Role.OPERATIONS: {"branch_code": "GZ"},
    Role.FINANCE: {"branch_code": "GD"},
    Role.EXECUTIVE: {"branch_code": "GD"},
    Role.IT_SECURITY: {"branch_code": "GD"},
    Role.AUDITOR: {"branch_code": "GD"},
    Role.MEMBER: {},
}
UNMASK_ROLES = {r for r in ROLES if can_unmask(r)}
AUDIT_ROLES = {Role.COMPLIANCE, Role.IT_SECURITY}  # alerts
AUDIT_READERS = {Role.COMPLIANCE, Role.IT_SECURITY, Role.AUDITOR}  # the audit log: search, proofs
UPLOAD_ROLES = {Role.COMPLIANCE, Role.IT_SECURITY}
PERSON_ROLES = {Role.COMPLIANCE, Role.CUSTOMER_SERVICE, Role.CHANNEL_MANAGER, Role.AGENT, Role.PARTNER_STAFF,
                Role.OPERATIONS, Role.AUDITOR}  # fmt: skip
REVIEW_ROLES = {Role.COMPLIANCE, Role.CUSTOMER_SERVICE}


@dataclass(frozen=True)
class Spec:
    """kind: public (no sign-in needed) | any (every role may use it) | roles (only `roles`) |
    record (scoped record: in scope → ok, out of scope → 404) | absent (the record does not exist for
    anyone: 403/404/410 only) | skip (not a page: admin, static)."""

    kind: str
    record: str = ""  # finding | party | load | policy | none (a non-existent id)
    roles: frozenset = field(default_factory=frozenset)  # for kind roles/record: who may use it at all
    method: str = "GET"
    ok: tuple = (200,)
    json_key: str = ""  # POST operations whose record is named in a JSON body: {json_key: id}


ALL = frozenset(ROLES)

PAGES: dict[str, Spec] = {
    "": Spec("any"),
    "login/": Spec("public"),
    "logout/": Spec("any", method="POST", ok=(302,)),
    "otp/setup/": Spec("any", ok=(200, 302)),
    "otp/verify/": Spec("any", ok=(200, 302)),
    "i18n/setlang/": Spec("public"),
    "loads/new/": Spec("roles", roles=frozenset(UPLOAD_ROLES)),
    "loads/<int:pk>/": Spec("any", record="load"),
    "loads/<int:pk>/status/": Spec("any", record="load"),
    # the full load-error report (load.error_report): its roles get 404 for a load that does not exist
    "loads/<int:pk>/errors/": Spec("absent", roles=frozenset({Role.COMPLIANCE, Role.IT_SECURITY})),
    "parties/": Spec("any"),
    "parties/<int:party_id>/unmask/<str:field>/": Spec(
        "record", record="party", roles=frozenset(UNMASK_ROLES)
    ),
    "unmask/<str:token>/": Spec("absent", ok=(410,)),
    "me/access/": Spec("any"),
    "audit/": Spec("roles", roles=frozenset(AUDIT_READERS)),
    "audit/verification/": Spec("roles", roles=frozenset(AUDIT_READERS)),
    "security/alerts/": Spec("roles", roles=frozenset(AUDIT_ROLES)),
    "security/alerts/<int:pk>/ack/": Spec("absent", method="POST", roles=frozenset(AUDIT_ROLES)),
    "security/keys/": Spec("roles", roles=frozenset({Role.IT_SECURITY})),
    "security/keys/verify/": Spec("roles", method="POST", roles=frozenset({Role.IT_SECURITY}), ok=(302,)),
    "security/keys/rotate/": Spec("roles", method="POST", roles=frozenset({Role.IT_SECURITY}), ok=(302, 409)),
    "security/capabilities/": Spec("roles", roles=frozenset({Role.IT_SECURITY, Role.AUDITOR})),
    "security/integrity/": Spec("roles", roles=frozenset({Role.IT_SECURITY, Role.AUDITOR})),
    "findings/": Spec("any"),
    "findings/list/": Spec("any"),
    "findings/export.xlsx": Spec("any"),  # aggregates of the viewer's own scope, as the dashboard
    "findings/<int:pk>/": Spec("record", record="finding", roles=ALL),
    "screening/": Spec("roles", roles=frozenset({Role.COMPLIANCE, Role.AUDITOR})),
    "screening/<int:pk>/": Spec(
        "record", record="screening", roles=frozenset({Role.COMPLIANCE, Role.AUDITOR})
    ),
    "report/": Spec("roles", roles=frozenset({Role.COMPLIANCE, Role.EXECUTIVE, Role.AUDITOR})),
    "report/summary.<str:fmt>": Spec(
        "roles", roles=frozenset({Role.COMPLIANCE, Role.EXECUTIVE, Role.AUDITOR}), ok=(404,)
    ),
    "blacklist/": Spec("roles", roles=frozenset({Role.COMPLIANCE})),
    # identity (tests/identity_world.py): a person in scope through P4, another on P3 only
    "persons/": Spec("roles", roles=frozenset(PERSON_ROLES)),
    "persons/<str:pk>/": Spec("record", record="person", roles=frozenset(PERSON_ROLES)),
    "persons/review/": Spec("roles", roles=frozenset(REVIEW_ROLES)),
    "persons/review/<int:pk>/": Spec("absent", method="POST", roles=frozenset(REVIEW_ROLES)),
    "security/watch/": Spec("roles", roles=frozenset(AUDIT_ROLES)),
    "security/watch/staff/<str:staff_no>/<str:day>/": Spec("absent", roles=frozenset(AUDIT_ROLES)),
    "security/watch/trace/": Spec("roles", roles=frozenset(AUDIT_ROLES)),  # leak.trace
    "security/watch/trace/<int:pk>/": Spec("absent", roles=frozenset(AUDIT_ROLES)),
    "security/watch/trace/<int:pk>/pdf/": Spec("absent", roles=frozenset(AUDIT_ROLES)),
    # The API's own routes are classified by operation (API below).
    "api/v1/": Spec("skip"),
    "api/v1/openapi.json": Spec("skip"),
    "api/v1/docs": Spec("skip"),
}
# Pages of apps whose records this matrix does not build yet: every role, a record id that does not
# exist; the answer must be 403/404 (or a redirect), never a 200 with details, never a 500.
# Real in/out-of-scope records: tests/test_scope_matrix_extractions.py, tests/test_remediation_matrix.py.
# Commission: who reads and who approves, tests/test_commission_web.py and tests/test_capabilities.py.
# Partnership: every page as every role, tests/test_partnership_web.py.
# Discipline: every page by role, tests/test_discipline_web.py.
PREFIX_ABSENT = ("extractions/", "remediation/", "commission/", "partnership/", "discipline/")

API: dict[tuple[str, str], Spec] = {
    ("get", "/api/v1/loads"): Spec("any"),
    ("post", "/api/v1/loads"): Spec("roles", roles=frozenset(UPLOAD_ROLES), ok=(400, 415, 422)),
    ("get", "/api/v1/loads/{load_id}"): Spec("any", record="load"),
    ("get", "/api/v1/policies/{policy_no}/parties"): Spec("record", record="policy", roles=ALL),
    ("post", "/api/v1/customers/lookup"): Spec(
        "record", record="policy", roles=ALL, method="POST", json_key="policy_no"
    ),
    ("get", "/api/v1/customers"): Spec("any"),
    ("get", "/api/v1/findings"): Spec("any"),
    ("get", "/api/v1/findings/summary"): Spec("any"),
    ("get", "/api/v1/findings/{finding_id}"): Spec("record", record="finding", roles=ALL),
    # the full load-error report (load.error_report): its roles get 404 for a load that does not exist
    ("get", "/api/v1/loads/{load_id}/error-report"): Spec(
        "absent", roles=frozenset({Role.COMPLIANCE, Role.IT_SECURITY})
    ),
    # systems only (screening keys): a user's token is refused whatever the role
    ("post", "/api/v1/screen"): Spec("system"),
}
# Commission: tests/test_commission_api.py and the capability table walk (tests/test_capabilities.py).
# The blacklist look-up: members of an association only (tests/test_blacklist*.py, and below).
# Persons: every operation by role and scope, tests/test_identity_api.py.
API_PREFIX_ABSENT = ("/api/v1/extractions", "/api/v1/remediation", "/api/v1/commission", "/api/v1/blacklist")
API_PREFIX_ABSENT += ("/api/v1/persons",)


def url_patterns():
    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            else:
                yield prefix + str(p.pattern)

    return sorted(set(walk(get_resolver().url_patterns)))


def api_operations():
    from custos.api.api import api

    schema = api.get_openapi_schema()
    return sorted((m, p) for p, ops in schema["paths"].items() for m in ops)


def test_every_route_is_classified():
    pages = [r for r in url_patterns() if not r.startswith(("admin/", "api/v1/")) or r in PAGES]
    unclassified = [r for r in pages if r not in PAGES and not r.startswith(PREFIX_ABSENT)]
    assert not unclassified, f"classify these pages in tests/test_access_matrix.py: {unclassified}"
    ops = [op for op in api_operations() if op not in API and not op[1].startswith(API_PREFIX_ABSENT)]
    assert not ops, f"classify these API operations in tests/test_access_matrix.py: {ops}"


# --- the world: the small book, one finding in scope (P4) and one out (P3), one user per role -----


@pytest.fixture
def world(db):
    from custos.book.models import BookLoad, Party
    from custos.checks.models import CheckRun, Finding

    load = build_small_book()
    run = CheckRun.objects.create(load=BookLoad.objects.get(pk=load.pk), status="done")
    findings = {}
    for policy_no, branch, channel, agent, partner in [
        ("P4", "GZ", "bancassurance", "A1", "BK1"),
        ("P3", "BJ", "agency", "A2", ""),
    ]:
        findings[policy_no] = Finding.objects.create(
            check_code="PH02",
            policy_no=policy_no,
            role="applicant",
            seq=1,
            field="mobile",
            category="false",
            severity="high",
            value="13812345678",
            opened_run=run,
            last_seen_run=run,
            opened_at=timezone.now(),
            channel=channel,
            branch_code=branch,
            agent_no=agent,
            partner_code=partner,
        )
    users, tokens = {}, {}
    for role in ROLES:
        users[role] = make_user(f"u-{role}", role, **SCOPES[role])
        tokens[role] = ApiToken.issue(users[role], "matrix")[1]
    parties = {p: Party.objects.get(policy_no=p, role="applicant") for p in ("P3", "P4")}
    from custos.screening.models import Client, Screening

    system = Client.issue("matrix")[0]
    screenings = {
        p: Screening.objects.create(
            client=system,
            application_id=p,
            policy_no=p,
            channel=ch,
            branch_code=br,
            agent_no=ag,
            partner_code=pa,
            verdict="pass",
            findings="[]",
            response="{}",
        )
        for p, br, ch, ag, pa in [
            ("P4", "GZ", "bancassurance", "A1", "BK1"),
            ("P3", "BJ", "agency", "A2", ""),
        ]
    }
    from tests.identity_world import build_persons

    build_persons(load)
    return {
        "load": load,
        "findings": findings,
        "parties": parties,
        "users": users,
        "tokens": tokens,
        "screenings": screenings,
    }


def record_id(world, kind: str, policy_no: str):
    if kind == "finding":
        return world["findings"][policy_no].pk
    if kind == "party":
        return world["parties"][policy_no].pk
    if kind == "policy":
        return policy_no
    if kind == "load":
        return world["load"].pk
    if kind == "screening":
        return world["screenings"][policy_no].pk
    if kind == "person":  # P00000001 holds P4's applicant; P00000002 is P3's alone
        return "P00000001" if policy_no == "P4" else "P00000002"
    return 987654  # a record that does not exist


def fill(route: str, rid) -> str:
    path = re.sub(r"<str:field>", "mobile", route)
    path = re.sub(r"<(?:int:|str:)?\w+>", str(rid), path)
    return "/" + path


def fill_api(path: str, rid) -> str:
    return re.sub(r"\{\w+\}", str(rid), path)


LEAKS = ("P3", "13812345678", "李*", "张*伟")  # the out-of-scope policy and the party's values


def assert_no_details(response, context):
    body = response.content.decode(errors="replace")
    for leak in LEAKS:
        found = re.search(rf"(?<![A-Za-z0-9]){re.escape(leak)}(?![A-Za-z0-9])", body)
        assert not found, f"{context}: answer mentions {leak!r}"


def call(client, method, path, **extra):
    if method == "POST":
        return client.post(path, **extra)
    return client.get(path, **extra)


@pytest.mark.parametrize("role", COMPANY_ROLES)
def test_pages(client, world, role):
    client.force_login(world["users"][role])
    for route in url_patterns():
        if route.startswith("admin/"):
            continue
        spec = PAGES.get(route)
        if spec is None and route.startswith(PREFIX_ABSENT):
            path = fill(route, 987654)
            if "<" in route:
                resp = client.get(path)
                assert resp.status_code in (302, 403, 404, 405, 410), f"{role} GET {path}: {resp.status_code}"
                assert_no_details(resp, f"{role} GET {path}")
            else:
                assert client.get(path).status_code < 500, f"{role} GET {path}"
            continue
        if spec is None or spec.kind in ("skip", "public"):
            continue
        ctx = f"{role} {spec.method} {route}"
        if spec.kind == "any":
            resp = call(client, spec.method, fill(route, record_id(world, spec.record, "P4")))
            assert resp.status_code in spec.ok, f"{ctx}: {resp.status_code}"
            if route == "logout/":
                client.force_login(world["users"][role])
        elif spec.kind == "roles":
            resp = call(client, spec.method, fill(route, 0))
            if role in spec.roles:
                assert resp.status_code in spec.ok, f"{ctx}: {resp.status_code}"
            else:
                assert resp.status_code in (403, 404), f"{ctx}: {resp.status_code}"
                assert_no_details(resp, ctx)
        elif spec.kind == "absent":
            resp = call(client, spec.method, fill(route, "987654"))
            expected = spec.ok if (not spec.roles or role in spec.roles) else (403, 404)
            if spec.roles and role in spec.roles:
                expected = (404,)
            assert resp.status_code in expected, f"{ctx}: {resp.status_code}"
            assert_no_details(resp, ctx)
        elif spec.kind == "record":
            inside = call(client, spec.method, fill(route, record_id(world, spec.record, "P4")))
            outside = call(client, spec.method, fill(route, record_id(world, spec.record, "P3")))
            if role in spec.roles:
                assert inside.status_code in spec.ok, f"{ctx} in scope: {inside.status_code}"
                assert outside.status_code == 404, f"{ctx} out of scope: {outside.status_code}"
            else:
                assert inside.status_code in (403, 404) and outside.status_code in (403, 404), ctx
                assert inside.status_code == outside.status_code, f"{ctx}: in/out answers differ"
            assert_no_details(outside, ctx + " out of scope")


@pytest.mark.parametrize("role", COMPANY_ROLES)
def test_api(client, world, role):
    from django.core.files.uploadedfile import SimpleUploadedFile

    auth = {"HTTP_AUTHORIZATION": f"Bearer {world['tokens'][role]}"}
    for method, path in api_operations():
        spec = API.get((method, path))
        ctx = f"{role} {method.upper()} {path}"
        if spec is None:  # another app's operations: a record that does not exist, never 200/500
            url = fill_api(path, 987654)
            resp = client.get(url, **auth) if method == "get" else client.post(url, {}, **auth)
            if "{" in path:
                assert resp.status_code in (400, 403, 404, 405, 422), f"{ctx}: {resp.status_code}"
                assert_no_details(resp, ctx)
            else:
                assert resp.status_code < 500, f"{ctx}: {resp.status_code}"
            continue
        if spec.kind == "any":
            resp = client.get(fill_api(path, record_id(world, spec.record, "P4")), **auth)
            assert resp.status_code in spec.ok, f"{ctx}: {resp.status_code}"
        elif spec.kind == "roles":
            upload = SimpleUploadedFile("x.txt", b"not a book")
            resp = client.post(path, {"file": upload}, **auth)
            expected = spec.ok if role in spec.roles else (403,)
            assert resp.status_code in expected, f"{ctx}: {resp.status_code}"
        elif spec.kind == "absent":
            resp = client.get(fill_api(path, 987654), **auth)
            expected = (404,) if role in spec.roles else (403, 404)
            assert resp.status_code in expected, f"{ctx}: {resp.status_code}"
            assert_no_details(resp, ctx)
        elif spec.kind == "system":
            resp = client.post(path, "{}", content_type="application/json", **auth)
            assert resp.status_code == 401, f"{ctx}: {resp.status_code}"
        elif spec.kind == "record" and spec.json_key:
            inside, outside = (
                client.post(
                    path,
                    json.dumps({spec.json_key: record_id(world, spec.record, p)}),
                    content_type="application/json",
                    **auth,
                )
                for p in ("P4", "P3")
            )
            assert inside.status_code in spec.ok, f"{ctx} in scope: {inside.status_code}"
            assert outside.status_code == 404, f"{ctx} out of scope: {outside.status_code}"
            assert_no_details(outside, ctx + " out of scope")
        elif spec.kind == "record":
            inside = client.get(fill_api(path, record_id(world, spec.record, "P4")), **auth)
            outside = client.get(fill_api(path, record_id(world, spec.record, "P3")), **auth)
            assert inside.status_code in spec.ok, f"{ctx} in scope: {inside.status_code}"
            assert outside.status_code == 404, f"{ctx} out of scope: {outside.status_code}"
            assert_no_details(outside, ctx + " out of scope")


@pytest.mark.parametrize("role", sorted(OUTSIDE_ROLES))
def test_outside_roles_reach_nothing_else(client, world, role):
    """A member of the association: every page and every API operation but the blacklist's is 403."""
    client.force_login(world["users"][role])
    for route in url_patterns():
        spec = PAGES.get(route)
        if route.startswith(("admin/", "api/v1/")) or (spec and spec.kind in ("public", "skip")):
            continue
        if route == "logout/":  # signing out stays possible
            continue
        path = fill(route, record_id(world, spec.record if spec else "none", "P4"))
        resp = client.post(path) if spec and spec.method == "POST" else client.get(path)
        assert resp.status_code == 403, f"{role} {path}: {resp.status_code}"
        assert_no_details(resp, f"{role} {path}")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {world['tokens'][role]}"}
    for method, path in api_operations():
        if path.startswith("/api/v1/blacklist/"):
            continue
        url = fill_api(path, "P4")
        resp = client.get(url, **auth) if method == "get" else client.post(url, {}, **auth)
        assert resp.status_code == 403, f"{role} {method} {url}: {resp.status_code}"
        assert_no_details(resp, f"{role} {method} {url}")


def test_anonymous_gets_nothing(client, world):
    for route in url_patterns():
        spec = PAGES.get(route)
        if route.startswith(("admin/", "api/v1/")) or (spec and spec.kind in ("public", "skip")):
            continue
        path = fill(route, record_id(world, spec.record if spec else "none", "P4"))
        resp = client.post(path) if spec and spec.method == "POST" else client.get(path)
        assert resp.status_code in (302, 403, 404, 405), f"anonymous {path}: {resp.status_code}"
        assert_no_details(resp, f"anonymous {path}")
    for method, path in api_operations():
        url = fill_api(path, "P4")
        resp = client.get(url) if method == "get" else client.post(url, {})
        assert resp.status_code in (401, 403, 404, 405, 422), f"anonymous {method} {url}: {resp.status_code}"


@pytest.mark.parametrize("role", sorted(OUTSIDE_ROLES))
def test_outside_roles_have_no_scope_in_the_book_without_the_middleware(world, role):
    """The second layer under custos.blacklist.middleware: the access service itself gives a member
    of the association no policy, however its profile's scope fields are filled."""
    from custos.access.service import AccessContext
    from custos.book.models import Policy

    assert Policy.objects.exists()
    ctx = AccessContext.for_user(world["users"][role])
    assert not ctx.policies().exists() and not ctx.parties().exists()
    assert not ctx.policy_in_scope("P4")
