"""What an outside probe of the demo found (issue 16) in the audit search, caching, sign-in and the
API's documentation, and the production settings `custos security check` reports."""

import ast
import re
from pathlib import Path

import pytest

import custos
from custos.access.models import Role
from custos.audit import actions, service
from custos.audit.models import AuditEntry
from tests.conftest import make_user

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-42"
ROOT = Path(custos.__file__).parent


@pytest.fixture
def login(client):
    def _login(username, role=None, **scope):
        make_user(username, role, **scope)
        assert client.login(username=username, password=PASSWORD)
        return client

    return _login


# --- the audit search finds every action the log records (item 6) ---------------------------------


def _name(call: ast.Call) -> str | None:
    return getattr(call.func, "attr", None) or getattr(call.func, "id", None)


def _action_arg(call: ast.Call, positions: set[int]) -> list[ast.expr]:
    out = [k.value for k in call.keywords if k.arg == "action"]
    return out or [call.args[i] for i in positions if i < len(call.args)]


def _recorders(trees) -> dict[str, set[int]]:
    """The functions that record an audit entry, by name, with the positions their action may take:
    custos.audit.service.append, and every function with an `action` parameter that hands it on to a
    recorder (to a fixed point): readlog.append, read_parties, signals.record, extraction's helpers…"""
    found: dict[str, set[int]] = {"append": set()}
    defs = [
        n
        for tree in trees
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef) and "action" in [a.arg for a in n.args.args + n.args.kwonlyargs]
    ]
    changed = True
    while changed:
        changed = False
        for fn in defs:
            params = [a.arg for a in fn.args.args]
            pos = params.index("action") if "action" in params else None
            if pos is not None and params[0] in ("self", "cls"):
                pos -= 1
            forwards = any(
                isinstance(c, ast.Call)
                and _name(c) in found
                and any(isinstance(a, ast.Name) and a.id == "action" for a in _action_arg(c, found[_name(c)]))
                for c in ast.walk(fn)
            )
            if forwards and (fn.name not in found or (pos is not None and pos not in found[fn.name])):
                found.setdefault(fn.name, set()).update({pos} if pos is not None else set())
                changed = True
    return found


def _recorded_actions() -> set[str]:
    """Every action string the code hands to a recording function: literals, and f-strings whose
    variable part is an extraction state (the extraction workflow's "extraction.<state>")."""
    from custos.extraction.models import Extraction

    trees = {
        path: ast.parse(path.read_text()) for path in ROOT.rglob("*.py") if "migrations" not in path.parts
    }
    recorders = _recorders(trees.values())
    found: set[str] = set()
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            if _name(node) == "watch" and len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
                name = node.args[1].value
                verbs = next((k.value for k in node.keywords if k.arg == "verbs"), None)
                extra = [e.elts[-1].value for e in getattr(verbs, "elts", [])]
                found |= {f"{name}.{v}" for v in ("created", "changed", "deleted", *extra)}
            if _name(node) not in recorders:
                continue
            for arg in _action_arg(node, recorders[_name(node)]):
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.add(arg.value)
                elif isinstance(arg, ast.JoinedStr):
                    prefix = "".join(v.value for v in arg.values if isinstance(v, ast.Constant))
                    if path.name == "record.py" and path.parent.name == "audit":
                        continue  # "<name>.<verb>" of custos.audit.record.watch: from its calls, below
                    assert prefix == "extraction.", f"{path}:{node.lineno}: an action built at run time"
                    found |= {prefix + s for s in Extraction.State.values}
    return found


def test_every_action_the_code_records_is_registered():
    recorded = _recorded_actions()
    assert {"task_view", "letter", "evidence", "extract", "screening", "extraction.approved"} <= recorded
    assert recorded - set(actions.ACTIONS) == set()


def test_append_refuses_an_unregistered_action_or_outcome():
    with pytest.raises(actions.UnknownAction, match="custos/audit/actions.py"):
        service.append(username="u", action="no_such_action")
    with pytest.raises(actions.UnknownAction):
        service.append(username="u", action="lookup", outcome="maybe")
    assert not AuditEntry.objects.exists()


def test_audit_search_finds_every_registered_action(login):
    for i, action in enumerate(actions.ACTIONS):
        service.append(username=f"u{i}", action=action, model="x", record_ids=[i])
    client = login("sec", Role.IT_SECURITY)
    for i, action in enumerate(actions.ACTIONS):
        response = client.get("/audit/", {"action": action})
        assert response.status_code == 200, action
        html = response.content.decode()
        assert f"<td>u{i}</td>" in html, action
        assert "没有符合条件的记录" not in html and "请至少填写一个条件" not in html


def test_every_outcome_is_searchable(login):
    for outcome in actions.OUTCOMES:
        service.append(username=f"who-{outcome}", action="lookup", outcome=outcome)
    client = login("comp", Role.COMPLIANCE)
    for outcome in actions.OUTCOMES:
        assert f"who-{outcome}" in client.get("/audit/", {"outcome": outcome}).content.decode()


def test_an_invalid_audit_search_says_why(login):
    client = login("sec", Role.IT_SECURITY)
    for params, field in [
        ({"action": "nonsense"}, "action"),
        ({"since": "yesterday"}, "since"),
        ({"record": "1;2"}, "record"),
    ]:
        response = client.get("/audit/", params)
        assert response.status_code == 400, params
        html = response.content.decode()
        assert "请至少填写一个条件" not in html
        assert re.search(rf'id="error-{field}"[^>]*>[^<]+', html), params
    assert not AuditEntry.objects.filter(action="audit_search").exists()


# --- no caching of anything custos generates (item 10) ----------------------------------------------


def test_every_generated_response_is_no_store_static_files_are_not(client, small_book):
    from custos.api.models import ApiToken

    assert "no-store" in client.get("/login/")["Cache-Control"]
    user = make_user("comp", Role.COMPLIANCE, staff_no="C1")
    _token, raw = ApiToken.issue(user, "t")
    assert client.login(username="comp", password=PASSWORD)
    for url in [
        "/",
        "/parties/?policy_no=P1",
        "/findings/",
        "/findings/list/",
        "/me/access/",
        "/audit/?username=x",
        "/no/such/page/",
    ]:
        response = client.get(url)
        assert response.status_code in (200, 404), url
        assert "no-store" in response.get("Cache-Control", ""), url
        assert "private" in response["Cache-Control"], url
    client.logout()
    for url in ["/api/v1/policies/P1/parties", "/api/v1/findings", "/api/v1/loads"]:
        response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {raw}")
        assert response.status_code == 200, url
        assert "no-store" in response.get("Cache-Control", ""), url
    static = client.get("/static/custos/custos.css")
    assert static.status_code == 200
    assert "no-store" not in static.get("Cache-Control", "")


# --- sign-in: lock-out by username and address; API documentation behind sign-in (item 11) ----------


def test_failures_from_one_address_do_not_lock_the_user_out_elsewhere(client):
    from django.conf import settings

    make_user("li", Role.AGENT, staff_no="A1")
    attacker, own = {"REMOTE_ADDR": "10.9.9.9"}, {"REMOTE_ADDR": "10.0.0.7"}
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/login/", {"username": "li", "password": "wrong-password-1"}, **attacker)
    locked = client.post("/login/", {"username": "li", "password": PASSWORD}, **attacker)
    assert locked.status_code == 429  # the guessing address is locked for this username
    assert AuditEntry.objects.filter(action="lockout", username="li", client="10.9.9.9").exists()
    signed_in = client.post("/login/", {"username": "li", "password": PASSWORD}, **own)
    assert signed_in.status_code == 302 and "_auth_user_id" in client.session  # the owner is not


def test_api_documentation_needs_sign_in_unless_configured_public(client, settings):
    from custos.api.models import ApiToken

    settings.CUSTOS_API_DOCS_PUBLIC = False
    schema = client.get("/api/v1/openapi.json")
    assert schema.status_code == 401 and "detail" in schema.json()
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 302 and docs["Location"].startswith("/login/?next=/api/v1/docs")
    assert client.get("/api/v1/openapi.json", HTTP_AUTHORIZATION="Bearer ct_not-a-token").status_code == 401
    user = make_user("dev", Role.IT_SECURITY)
    _token, raw = ApiToken.issue(user, "t")
    by_token = client.get("/api/v1/openapi.json", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert by_token.status_code == 200 and by_token.json()["openapi"].startswith("3.")
    make_user("agent", Role.AGENT)
    assert client.login(username="agent", password=PASSWORD)
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert client.get("/api/v1/docs").status_code == 200
    client.logout()
    settings.CUSTOS_API_DOCS_PUBLIC = True
    assert client.get("/api/v1/openapi.json").status_code == 200


def test_api_documentation_is_closed_by_default_outside_debug():
    import subprocess
    import sys

    code = "import django; django.setup(); from django.conf import settings; print(settings.CUSTOS_API_DOCS_PUBLIC)"
    env = {
        k: v
        for k, v in __import__("os").environ.items()
        if k not in ("CUSTOS_DEBUG", "CUSTOS_API_DOCS_PUBLIC")
    }
    env["DJANGO_SETTINGS_MODULE"] = "custos.settings"
    for debug, expected in (("0", "False"), ("1", "True")):
        out = subprocess.run(
            [sys.executable, "-c", code],
            env={**env, "CUSTOS_DEBUG": debug},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert out.strip() == expected


# --- ids beyond 64 bits and other bad numbers are a 400 that names the parameter (item 5) ----------

BAD_IDS = ["9223372036854775808", "99999999999999999999999", "-1", "0", "1e3", "abc", "²", "１"]


@pytest.mark.parametrize("param", ["run", "load", "opened_run", "closed_run"])
def test_findings_list_refuses_a_bad_id_with_a_400_naming_it(login, small_book, param):
    client = login("comp", Role.COMPLIANCE)
    for value in BAD_IDS:
        response = client.get("/findings/list/", {param: value})
        assert response.status_code == 400, value
        assert param in response.content.decode() and "9223372036854775807" in response.content.decode()
    assert client.get("/findings/list/", {param: "9223372036854775807"}).status_code == 200
    assert client.get("/findings/list/", {param: " 12 "}).status_code == 200


@pytest.mark.parametrize("param", ["run", "load", "opened_run", "closed_run"])
def test_findings_api_refuses_a_bad_id_naming_it(client, small_book, param):
    from custos.api.models import ApiToken

    _token, raw = ApiToken.issue(make_user("comp", Role.COMPLIANCE), "t")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    for path in ("/api/v1/findings", "/api/v1/findings/summary"):
        for value in ("9223372036854775808", "-1", "0"):
            response = client.get(path, {param: value}, **auth)
            assert response.status_code == 422, (path, value)
            assert response.json()["detail"][0]["loc"][-1] == param
        assert client.get(path, {param: "9223372036854775807"}, **auth).status_code == 200


def test_a_path_id_beyond_64_bits_is_a_400_not_a_500(login, small_book):
    client = login("comp", Role.COMPLIANCE)
    response = client.get("/findings/9223372036854775808/")
    assert response.status_code in (400, 404) and "no-store" in response["Cache-Control"]  # never a 500
    assert client.get("/findings/9223372036854775807/").status_code == 404


# --- `custos security check` reports the production settings that matter here ------------------------


@pytest.fixture
def production(settings, tmp_path, monkeypatch):
    """A deployment as docs/operations.md sets it up: custos init's home and keyring, TLS."""
    from custos.access.management.commands.init import prepare_keyring
    from custos.crypto import keyring

    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("CUSTOS_HOME", str(home))
    monkeypatch.setenv("CUSTOS_KEYRING", str(home / "keyring.json"))
    monkeypatch.delenv("CUSTOS_SECRET_KEY", raising=False)
    prepare_keyring(home / "keyring.json")
    settings.SECRET_KEY = keyring.read(home / "keyring.json")["django_secret_key"]
    settings.DEBUG = False
    settings.CUSTOS_OTP_REQUIRED = True
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_HSTS_SECONDS = 31536000
    return home


def test_security_check_passes_a_production_deployment(production):
    from custos.access import posture

    assert posture.findings(verify_audit=False) == []


def test_security_check_reports_the_settings_the_probe_found(production, settings):
    import os

    from custos.access import posture

    settings.AXES_LOCKOUT_PARAMETERS = ["username"]
    settings.CUSTOS_API_DOCS_PUBLIC = True
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != "custos.web.middleware.NoStoreMiddleware"]
    settings.SECURE_HSTS_SECONDS = 0
    settings.CSRF_COOKIE_SECURE = False
    settings.SESSION_EXPIRE_AT_BROWSER_CLOSE = False
    settings.ALLOWED_HOSTS = ["*"]
    os.chmod(production, 0o755)
    found = "\n".join(posture.findings(verify_audit=False))
    for expected in [
        "lock-out by username alone",
        "API schema and documentation are public",
        "NoStoreMiddleware",
        "HSTS",
        "CSRF cookie",
        "outlive the browser",
        "ALLOWED_HOSTS",
        "mode 755, must be 700",
    ]:
        assert expected in found, expected
    settings.AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
    settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
    assert "no lock-out" in "\n".join(posture.findings(verify_audit=False))
