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

# The functions through which code records an audit entry, and where their action argument is.
_RECORDERS = {"append": None, "read_parties": 1, "read_findings": 2, "log_denied": 0, "record": 0,
              "record_request": 0, "_audit": 1}  # fmt: skip


def _recorded_actions() -> set[str]:
    """Every action string the code hands to a recording function: literals, and f-strings whose
    variable part is an extraction state (custos.extraction.services._audit)."""
    from custos.extraction.models import Extraction

    found: set[str] = set()
    for path in ROOT.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            if name not in _RECORDERS:
                continue
            arg = next((k.value for k in node.keywords if k.arg == "action"), None)
            pos = _RECORDERS[name]
            if arg is None and pos is not None and len(node.args) > pos:
                arg = node.args[pos]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.add(arg.value)
            elif isinstance(arg, ast.JoinedStr):
                prefix = "".join(v.value for v in arg.values if isinstance(v, ast.Constant))
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
    for params, field in [({"action": "nonsense"}, "action"), ({"since": "yesterday"}, "since"),
                          ({"record": "1;2"}, "record")]:  # fmt: skip
        response = client.get("/audit/", params)
        assert response.status_code == 400, params
        html = response.content.decode()
        assert "请至少填写一个条件" not in html
        assert re.search(rf'id="error-{field}"[^>]*>[^<]+', html), params
    assert not AuditEntry.objects.filter(action="audit_search").exists()
