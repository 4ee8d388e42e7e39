"""The capability table (custos/access/capabilities.py) is the one place that decides who may do what.

1. Every page, API operation and custos command is in the table — offered by a capability, or
   declared public / for everyone signed in / for calling systems / operator housekeeping — and every
   name the table mentions exists. A new route fails here until its author places it.
2. Every capability is enforced on every interface that offers it: each role without the capability
   is refused there (403, 404, or the page's refusal message), one role with it is not.
3. Nothing outside custos/access compares roles itself (role_of, Role.X, role sets, role names).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.contrib.messages import constants as message_levels
from django.contrib.messages import get_messages
from django.core.management import get_commands
from django.db import transaction
from django.urls import URLResolver, get_resolver, reverse

from custos.access import capabilities as caps
from custos.access.models import Role
from tests.conftest import make_user
from tests.test_access_matrix import world  # noqa: F401 (fixture: the small book, a user per role)
from tests.test_remediation import keys  # noqa: F401 (fixture)
from tests.test_remediation_matrix import rworld  # noqa: F401 (fixture: tasks, corrections, samples)

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent / "custos"


# --- 1. every route is in the table ------------------------------------------------------------------


def url_names() -> set[str]:
    def walk(patterns, ns=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                if p.app_name == "admin" or str(p.pattern) == "api/v1/":
                    continue
                yield from walk(p.url_patterns, f"{ns}{p.namespace}:" if p.namespace else ns)
            elif p.name:
                yield ns + p.name

    return set(walk(get_resolver().url_patterns))


def operation_ids() -> set[str]:
    from custos.api.api import api

    schema = api.get_openapi_schema()
    return {op["operationId"] for ops in schema["paths"].values() for op in ops.values()}


def custos_commands() -> set[str]:
    return {name for name, app in get_commands().items() if app.startswith("custos.")}


def declared():
    pages, api, commands = set(), set(), set()
    for cap in caps.CAPABILITIES.values():
        pages |= {r.name for r in cap.pages + cap.shown_on}
        api |= set(cap.api)
        commands |= {c.split()[0] for c in cap.commands}
    return pages, api, commands


def test_every_page_endpoint_and_command_is_in_the_table():
    pages, api, commands = declared()
    open_pages = caps.PUBLIC_PAGES | caps.SIGNED_IN_PAGES
    assert sorted(url_names() - pages - open_pages) == [], (
        "place these pages in custos/access/capabilities.py"
    )
    assert sorted((pages | open_pages) - url_names()) == [], "the table names pages that do not exist"
    open_api = caps.SIGNED_IN_API | caps.SYSTEM_API
    assert sorted(operation_ids() - api - open_api) == [], "place these API operations in the table"
    assert sorted((api | open_api) - operation_ids()) == [], (
        "the table names API operations that do not exist"
    )
    assert sorted(custos_commands() - commands - caps.OPERATOR_COMMANDS) == [], "place these commands"
    assert sorted((commands | caps.OPERATOR_COMMANDS) - custos_commands()) == [], "unknown commands"


def test_the_table_is_well_formed():
    for cap in caps.CAPABILITIES.values():
        assert cap.roles <= set(Role.values), cap.name
        assert str(cap.description), cap.name
        if cap.planned:
            assert not (cap.pages or cap.api or cap.commands), f"{cap.name}: planned, yet offered"
        else:
            assert cap.pages or cap.api or cap.commands or cap.shown_on, f"{cap.name}: offered nowhere"
    assert caps.second_factor_roles() == {
        Role.COMPLIANCE,
        Role.CUSTOMER_SERVICE,
        Role.OPERATIONS,
        Role.EXECUTIVE,
        Role.IT_SECURITY,
    }


def test_can_refuses_departed_inactive_and_profileless_users(world):  # noqa: F811
    from custos.book.models import Staff

    agent = world["users"][Role.AGENT]  # staff A1
    assert caps.can(agent, "extract.request")
    Staff.objects.filter(staff_no="A1").update(left_on="2020-01-01")
    assert not caps.can(agent, "extract.request") and caps.capabilities_of(agent) == frozenset()
    it = world["users"][Role.IT_SECURITY]
    it.is_active = False
    assert not caps.can(it, "keys.manage")
    assert not caps.can(make_user("nobody"), "task.work")
    with pytest.raises(KeyError):
        caps.can(world["users"][Role.COMPLIANCE], "no.such.capability")


def test_settings_replace_a_capabilitys_roles(world, settings):  # noqa: F811
    settings.CUSTOS_CAPABILITIES = {"audit.read": [Role.AUDITOR]}
    assert caps.can(world["users"][Role.AUDITOR], "audit.read")
    assert not caps.can(world["users"][Role.COMPLIANCE], "audit.read")


def test_restrict_narrows_to_scope_and_capability(world):  # noqa: F811
    from custos.book.models import Party, Policy
    from custos.extraction.models import Extraction

    agent = world["users"][Role.AGENT]
    assert set(caps.restrict(Policy.objects.all(), agent).values_list("agent_no", flat=True)) == {"A1"}
    assert caps.restrict(Party.objects.all(), agent).exclude(policy_no__in=["P1", "P4"]).count() == 0
    assert not caps.restrict(Policy.objects.all(), agent, "audit.read").exists()
    caps.register_scope(Extraction, lambda qs, ctx: qs.filter(requester=ctx.user))
    try:
        assert caps.restrict(Extraction.objects.all(), agent).query.where  # the app's filter applied
    finally:
        caps._SCOPES.pop(Extraction)


# --- 2. every capability is enforced on every interface that offers it ---------------------------


@pytest.fixture
def cworld(rworld, settings):  # noqa: F811
    """rworld (tasks, corrections, samples of P4 in every role's scope) + an extraction requested by
    someone else, an open alert, a load with an error, and a party of P4."""
    import datetime as dt

    from custos.book.models import BookLoad, Partner
    from custos.extraction.models import Extraction
    from custos.watch.models import SecurityAlert

    settings.CUSTOS_OTP_REQUIRED = False
    Partner.objects.filter(partner_code="BK1").update(contract_until=dt.date.today() + dt.timedelta(days=365))
    requester = make_user("c-requester", Role.CUSTOMER_SERVICE)
    extraction = Extraction.objects.create(
        requester=requester,
        purpose="capability check",
        scope={"branch": "GZ"},
        fields=["name"],
        recipient_name="x",
        recipient_org="y",
        nonce="0" * 32,
    )
    alert = SecurityAlert.objects.create(kind=SecurityAlert.Kind.LOCKOUT, detail="capability check")
    BookLoad.objects.filter(pk=rworld["load"].pk).update(
        status="failed",
        error_count=1,
        errors=[{"file": "policies.csv", "row": 2, "column": "id_no", "message": "ZZ-LOAD-ERROR"}],
    )
    from django.utils import timezone

    from custos.commission.models import SettlementRun, Statement

    # a book to settle against (the world's load was just marked failed); January approved (the
    # export), February prepared (the run page and its approval)
    BookLoad.objects.create(source_name="capability-done", sha256="1" * 64, status="done")
    for month, status in (("2026-01", "approved"), ("2026-02", "prepared")):
        settlement = SettlementRun.objects.create(
            month=month, load=rworld["load"], prepared_by_name="cli:someone", prepared_at=timezone.now(),
            status=status,
        )  # fmt: skip
        Statement.objects.create(
            run=settlement, payee_kind="agent", payee="A1", due=100, net=100, payable=100
        )
    return {**rworld, "extraction": extraction, "alert": alert, "settlement": settlement}


def record_pk(w, kind: str):
    return {
        "party": lambda: w["parties"]["P4"].pk,
        "extraction": lambda: w["extraction"].pk,
        "task": lambda: w["tasks"]["P4"].pk,
        "sample": lambda: w["samples"]["P4"].pk,
        "alert": lambda: w["alert"].pk,
        "screening": lambda: w["screenings"]["P4"].pk,
        "load": lambda: w["load"].pk,
        "settlement": lambda: w["settlement"].pk,
        "person": lambda: "P00000001",  # P4's applicant (tests/identity_world.py, in the matrix world)
        "review_pair": lambda: __import__("custos.identity.models").identity.models.ReviewPair.objects.get().pk,
    }[kind]()


def page_url(w, route: caps.Route) -> str:
    kwargs = dict(route.kwargs)
    if route.record == "correction":
        kwargs |= {"pk": w["tasks"]["P4"].pk, "cid": w["corrections"]["P4"].pk}
    elif route.record:
        kwargs["party_id" if route.record == "party" else "pk"] = record_pk(w, route.record)
    return reverse(route.name, kwargs=kwargs or None)


def api_call(w, op: str):
    """(method, path, body) of an API operation, with a body its schema accepts."""
    from custos.api.api import api

    for path, ops in api.get_openapi_schema()["paths"].items():
        for method, spec in ops.items():
            if spec["operationId"] == op:
                path = (
                    path.replace("{extraction_id}", str(w["extraction"].pk))
                    .replace("{pk}", str(w["tasks"]["P4"].pk))
                    .replace("{cid}", str(w["corrections"]["P4"].pk))
                    .replace("{sid}", str(w["samples"]["P4"].pk))
                    .replace("{load_id}", str(w["load"].pk))
                    .replace("{person_id}", "P00000001")
                    .replace("{statement_id}", str(w["settlement"].statements.get().pk))
                )
                return method, path, API_BODIES.get(op.rsplit("_api_", 1)[1], {})
    raise AssertionError(f"no API operation {op}")


API_BODIES = {
    "create_load": "multipart",
    "create_extraction": {
        "purpose": "capability check",
        "fields": ["name"],
        "recipient_name": "r",
        "recipient_org": "o",
        "file_format": "csv",
    },
    "add_attempt": {"method": "phone", "contact": "13900000000", "outcome": "no_answer"},
    "verify": {"contact": "13900000000", "success": True},
    "review": {"approve": False},
    "sample_result": {"passed": True},
    "draw": {"share": 0.5},
    "assign": {"tasks": [], "to": "u-compliance"},
    "letters": {"tasks": []},
    "partner_notice": {"partner": "BK1", "format": "xlsx"},
    "propose": "multipart",
}


def refused(resp) -> bool:
    if resp.status_code in (401, 403, 404):
        return True
    errors = [m for m in get_messages(resp.wsgi_request) if m.level == message_levels.ERROR]
    return resp.status_code in (302, 403) and bool(errors)


def call_page(client, w, route):
    url = page_url(w, route)
    if route.method == "POST":
        return client.post(url, {"share": "50", "passed": "1", "decision": "reject", "month": "2026-03"})
    return client.get(url)


def call_api(client, w, op, token):
    from django.core.files.uploadedfile import SimpleUploadedFile

    method, path, body = api_call(w, op)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    if method == "get":
        return client.get(path, **auth)
    if body == "multipart":
        data = {
            "file": SimpleUploadedFile("x.txt", b"not a book"),
            "field": "email",
            "new_value": "a@example.com",
        }
        return client.post(path, data, **auth)
    return client.post(path, json.dumps(body), content_type="application/json", **auth)


def isolated(fn):
    """Run one call and undo what it changed, so that every call meets the same world."""

    class Undo(Exception):
        pass

    box = {}
    try:
        with transaction.atomic():
            box["resp"] = fn()
            raise Undo
    except Undo:
        pass
    return box["resp"]


OFFERED = sorted(name for name, c in caps.CAPABILITIES.items() if c.pages or c.api or c.shown_on)


@pytest.mark.parametrize("capability", OFFERED)
def test_every_capability_is_enforced_where_it_is_offered(client, cworld, capability):
    cap = caps.CAPABILITIES[capability]
    holders = caps.roles_with(capability)
    # one holder (not the extraction's requester's role, so that "cancel" means someone else's)
    holder = sorted(holders - {Role.CUSTOMER_SERVICE} or holders)[0]
    for role in Role.values:
        client.force_login(cworld["users"][role])
        token = cworld["tokens"][role]
        for route in cap.pages:
            resp = isolated(lambda: call_page(client, cworld, route))  # noqa: B023
            where = f"{role} {route.method} {route.name} {dict(route.kwargs)}"
            if role not in holders:
                assert refused(resp), f"{capability}: not refused for {where}: {resp.status_code}"
            elif role == holder:
                assert not refused(resp), f"{capability}: refused for {where}: {resp.status_code}"
                assert resp.status_code < 500, where
        for op in cap.api:
            resp = isolated(lambda: call_api(client, cworld, op, token))  # noqa: B023
            where = f"{role} API {op}"
            if role not in holders:
                assert resp.status_code in (403, 404), (
                    f"{capability}: not refused for {where}: {resp.status_code}"
                )
            elif role == holder:
                assert resp.status_code not in (401, 403, 404, 500), (
                    f"{capability}: {where}: {resp.status_code}"
                )
        for route in cap.shown_on:  # a page everyone opens, showing this part only to holders
            body = client.get(page_url(cworld, route)).content.decode()
            shown = "ZZ-LOAD-ERROR" in body
            assert shown == (role in holders), f"{capability}: {role} on {route.name}: shown={shown}"


def test_the_enforcement_test_catches_a_forgotten_check(client, cworld, settings):
    """The table, not the view, is the authority: giving a role a capability opens its pages at once,
    and taking it away closes them — a view with its own role list would not follow."""
    auditor = cworld["users"][Role.AUDITOR]
    client.force_login(auditor)
    assert client.get(reverse("key-status")).status_code == 403
    settings.CUSTOS_CAPABILITIES = {"keys.manage": [Role.AUDITOR]}
    assert client.get(reverse("key-status")).status_code == 200
    client.force_login(cworld["users"][Role.IT_SECURITY])
    assert client.get(reverse("key-status")).status_code == 403


def test_the_capability_page(client, world):  # noqa: F811
    client.force_login(world["users"][Role.IT_SECURITY])
    body = client.get(reverse("capabilities")).content.decode()
    for name in caps.CAPABILITIES:
        assert name in body


# --- 3. nobody else decides by role ------------------------------------------------------------------

ROLE_NAMES = "|".join(r for r in Role.values if r not in ("agent", "operations", "finance"))
FORBIDDEN = [
    (re.compile(r"\brole_of\((?![^)]*\)\s+is\b)"), "role_of( — ask can(user, capability)"),
    (re.compile(r"\b_role\("), "a private role look-up — ask can(user, capability)"),
    (re.compile(r"\bRole\.[A-Z_]+\b"), "Role.X — a role named outside the table"),
    (re.compile(r"\bin\s+[\w.]*_ROLES\b"), "membership of a role set"),
    (re.compile(r"\b\w*_ROLES\s*=\s*(?:frozenset|set|\{|\[|\()"), "a role set defined outside the table"),
    (re.compile(rf"""(==|!=|\bin)\s*[(\[{{]?\s*["']({ROLE_NAMES})["']"""), "a role name compared"),
    (re.compile(rf"""\brole\s*=\s*'({ROLE_NAMES})'"""), "a role name in SQL"),
]
# Files that name roles to make users or to describe them, not to decide anything.
NOT_DECISIONS = {
    "custos/web/management/commands/demo.py",  # creates one demo user per role
    "custos/web/demo_tour.py",  # signs in as demo users
    "custos/bench/api.py",  # creates the benchmark's user
    "custos/domain/codes.py",  # code lists
    "custos/settings.py",  # the per-company knobs the table reads (CUSTOS_UNMASK_ROLES, CUSTOS_OTP_ROLES)
}
# Consumers not moved to the table yet, each a TODO for its owner: the line must go, not be added to.
NOT_YET_MOVED: set[str] = set()
# Lines that read a role as a fact about the person, not as a permission: partner staff belong to a
# partner, whose confidentiality agreement must be valid before they receive customer data.
# Remediation routes tasks by role (routing, not a permission): new tasks to the partner's staff or
# the channel manager, overdue ones to the compliance officers of the branch.
FACTS = (
    "p.role == Role.PARTNER_STAFF",
    "WHERE p.role = 'compliance'",
    "WHERE p.role = 'partner_staff'",
    "WHERE p.role = 'channel_manager'",
)


def role_decisions():
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).as_posix()
        if rel.startswith(("custos/access/", "custos/synth/")) or "/migrations/" in rel:
            continue
        if rel in NOT_DECISIONS or rel in NOT_YET_MOVED:
            continue
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if any(fact in line for fact in FACTS):
                continue
            for pattern, why in FORBIDDEN:
                if pattern.search(line):
                    yield f"{rel}:{no}: {why}: {line.strip()}"


def test_no_role_decisions_outside_the_table():
    found = list(role_decisions())
    assert found == [], "decide through custos.access.capabilities.can():\n" + "\n".join(found)


def test_the_grep_finds_a_role_decision():
    """The patterns catch the forms role checks took before the table."""
    samples = [
        "if permissions.role_of(request.user) not in roles:",
        "if ctx.role not in svc.MANAGER_ROLES:",
        "if _role(user) != Role.CUSTOMER_SERVICE:",
        '"may_draw": ctx.role == "compliance",',
        "WHERE p.role = 'compliance'",
        'ALERT_ROLES = frozenset({"it_security", "compliance"})',
    ]
    for line in samples:
        assert any(p.search(line) for p, _why in FORBIDDEN), line
    assert not any(p.search('USER_ROLES = roles_with("task.work")') for p, _why in FORBIDDEN)


@pytest.mark.parametrize("doc", ["docs/security.md", "docs/architecture.md"])
def test_the_docs_show_the_capability_table_as_it_is(doc):
    """The docs' table is written from the table (`python -m custos.access.capability_doc --write`):
    a capability added, offered or given to another role shows there, or this fails."""
    from pathlib import Path

    from custos.access import capability_doc

    text = (Path(__file__).resolve().parents[1] / doc).read_text(encoding="utf-8")
    assert capability_doc.replace_in(text, capability_doc.markdown()) == text, (
        f"{doc}: run `python -m custos.access.capability_doc --write`"
    )
