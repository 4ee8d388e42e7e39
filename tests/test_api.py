"""REST API /api/v1: bearer tokens, loads (list, upload, detail) and the masked parties of a policy."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from custos.access.models import Role
from custos.api.models import ApiToken
from custos.audit.models import AuditEntry
from custos.book.models import BookLoad
from tests.conftest import make_user
from tests.test_access_service import _block_read_log_inserts

pytestmark = pytest.mark.django_db


@pytest.fixture
def token():
    def _token(role=None, username="api-user", **scope):
        user = make_user(username, role, **scope)
        return {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue(user, 'test')[1]}"}

    return _token


@pytest.fixture
def enqueued(monkeypatch):
    calls = []
    import custos.book.tasks

    monkeypatch.setattr(custos.book.tasks, "run_load", lambda *a: calls.append(a))
    return calls


def test_openapi_schema_is_published(client, settings):
    settings.CUSTOS_API_DOCS_PUBLIC = True  # behind sign-in otherwise: tests/test_security_probe.py
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["openapi"].startswith("3.")
    assert {"/api/v1/loads", "/api/v1/loads/{load_id}", "/api/v1/policies/{policy_no}/parties"} <= set(
        spec["paths"]
    )


@pytest.mark.parametrize("header", [None, "Bearer ct_not-a-token", "Basic abc", "Bearer "])
def test_requests_without_a_valid_token_are_401(client, header):
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    response = client.get("/api/v1/loads", **extra)
    assert response.status_code == 401
    assert response.json() == {"detail": "Unauthorized"}


def test_revoked_token_and_inactive_user_are_refused(client):
    user = make_user("u", Role.COMPLIANCE)
    t, secret = ApiToken.issue(user, "t")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    assert client.get("/api/v1/loads", **auth).status_code == 200
    t.refresh_from_db()
    assert t.last_used_at is not None
    ApiToken.objects.filter(pk=t.pk).update(revoked=True)
    assert client.get("/api/v1/loads", **auth).status_code == 401
    ApiToken.objects.filter(pk=t.pk).update(revoked=False)
    user.is_active = False
    user.save()
    assert client.get("/api/v1/loads", **auth).status_code == 401


def test_tokens_are_stored_as_digests():
    user = make_user("u", Role.COMPLIANCE)
    t, secret = ApiToken.issue(user, "t")
    assert secret not in (t.digest, t.prefix) and t.digest == ApiToken.hash(secret)


def test_list_loads(client, token):
    BookLoad.objects.create(source_name="a.zip", sha256="a" * 64, status="done", row_counts={"policies": 3})
    response = client.get("/api/v1/loads", **token(Role.AUDITOR))
    assert response.status_code == 200
    [load] = response.json()
    assert (
        load["source_name"] == "a.zip" and load["status"] == "done" and load["row_counts"] == {"policies": 3}
    )


def test_upload_forbidden_to_other_roles(client, token, enqueued):
    response = client.post(
        "/api/v1/loads", {"file": SimpleUploadedFile("b.zip", b"PK")}, **token(Role.AGENT, staff_no="A1")
    )
    assert response.status_code == 403 and "detail" in response.json()
    assert not BookLoad.objects.exists()


def test_upload_accepted(client, token, custos_home, enqueued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/loads",
            {"file": SimpleUploadedFile("b.zip", b"PK\x03\x04"), "mode": "delta"},
            **token(Role.IT_SECURITY),
        )
    assert response.status_code == 202
    body = response.json()
    load = BookLoad.objects.get(pk=body["id"])
    assert body["status"] == "queued" and load.mode == "delta" and body["url"] == f"/api/v1/loads/{load.pk}"
    assert enqueued[0][0] == load.pk


def test_upload_rejections(client, token, custos_home, enqueued, settings):
    auth = token(Role.COMPLIANCE)
    response = client.post("/api/v1/loads", {"file": SimpleUploadedFile("b.pdf", b"%PDF")}, **auth)
    assert response.status_code == 400 and "detail" in response.json()
    settings.CUSTOS_MAX_UPLOAD_BYTES = 3
    response = client.post("/api/v1/loads", {"file": SimpleUploadedFile("b.csv", b"a,b\n")}, **auth)
    assert response.status_code == 413
    response = client.post("/api/v1/loads", {}, **auth)
    assert response.status_code in (400, 422)
    assert not BookLoad.objects.exists()


def test_load_detail_and_errors_by_role(client, token):
    load = BookLoad.objects.create(
        source_name="x.zip",
        sha256="f" * 64,
        status="failed",
        error_count=1,
        errors=[{"file": "parties.csv", "row": 4, "column": "mobile", "message": "bad"}],
    )
    body = client.get(f"/api/v1/loads/{load.pk}", **token(Role.COMPLIANCE)).json()
    assert body["status"] == "failed" and body["errors"] == [
        {"file": "parties.csv", "row": 4, "column": "mobile", "code": "", "message": "bad"}
    ]
    body = client.get(f"/api/v1/loads/{load.pk}", **token(Role.AGENT, username="ag", staff_no="A1")).json()
    assert body["error_count"] == 1 and body["errors"] is None
    response = client.get("/api/v1/loads/99999", **token(Role.COMPLIANCE, username="c2"))
    assert response.status_code == 404 and "detail" in response.json()


def test_policy_parties_masked_and_logged(client, token, small_book):
    response = client.get("/api/v1/policies/P4/parties", **token(Role.PARTNER_STAFF, partner_code="BK1"))
    assert response.status_code == 200
    body = response.json()
    assert body["policy_no"] == "P4"
    applicant = body["parties"][0]
    assert applicant["name"] == "张*伟" and applicant["id_no"] == "4401**********1234"
    assert applicant["mobile"] == "138****5678" and applicant["birth_date"] == "1980-**-**"
    log = AuditEntry.objects.get(model="party")
    assert log.action == "api" and log.username == "api-user" and len(log.record_id_list) == 2


def test_policy_parties_out_of_scope_is_404(client, token, small_book):
    response = client.get("/api/v1/policies/P3/parties", **token(Role.PARTNER_STAFF, partner_code="BK1"))
    assert response.status_code == 404
    assert "张" not in response.content.decode()
    response = client.get("/api/v1/policies/NOPE/parties", **token(Role.COMPLIANCE, username="c"))
    assert response.status_code == 404


def test_policy_parties_fail_closed(client, token, small_book):
    auth = token(Role.COMPLIANCE)
    _block_read_log_inserts()
    response = client.get("/api/v1/policies/P1/parties", **auth)
    assert response.status_code == 503
    assert "张" not in response.content.decode()


def _lookup(client, auth, **body):
    return client.post("/api/v1/customers/lookup", body, content_type="application/json", **auth)


def test_customer_lookup_by_policy_and_by_id_number_masked_scoped_and_logged(client, token, small_book):
    auth = token(Role.PARTNER_STAFF, partner_code="BK1")
    body = _lookup(client, auth, policy_no="P4").json()
    assert body["count"] == 2 and {p["policy_no"] for p in body["parties"]} == {"P4"}
    assert body["parties"][0]["id_no"] == "4401**********1234"
    # the same ID number is on every policy of the small book; BK1 sees P2 and P4 only
    response = _lookup(client, auth, id_no=" 440106198005061234 ")
    assert response.status_code == 200
    body = response.json()
    assert {p["policy_no"] for p in body["parties"]} == {"P2", "P4"} and body["count"] == 4
    assert "440106198005061234" not in response.content.decode()
    logs = list(AuditEntry.objects.filter(model="party").order_by("seq"))
    assert [(e.action, e.purpose, len(e.record_id_list)) for e in logs] == [
        ("api", "search by policy_no; page 1", 2),
        ("api", "search by id_no; page 1", 4),
    ]
    assert "440106198005061234" not in " ".join(e.purpose + e.record_ids for e in logs)


def test_customer_lookup_out_of_scope_and_unknown_are_404(client, token, small_book):
    auth = token(Role.AGENT, staff_no="A1")  # A1's policies: P1, P4
    assert _lookup(client, auth, policy_no="P3").status_code == 404
    assert _lookup(client, auth, policy_no="NOPE").status_code == 404
    assert _lookup(client, auth, id_no="110101199001011237").status_code == 404
    assert _lookup(client, auth, id_no="   ").status_code == 404  # never matches the empty index
    assert {p["policy_no"] for p in _lookup(client, auth, id_no="440106198005061234").json()["parties"]} == {
        "P1",
        "P4",
    }


# keys given together must all match (docs/security.md); a name needs its birth date
@pytest.mark.parametrize("body", [{}, {"name": "张三"}, {"birth_date": "1980-05-06"}, {"policy_no": ""}])
def test_customer_lookup_needs_a_key(client, token, small_book, body):
    response = _lookup(client, token(Role.COMPLIANCE), **body)
    assert response.status_code == 422 and isinstance(response.json()["detail"], list)
    assert not AuditEntry.objects.filter(model="party").exists()


def test_customer_lookup_fails_closed(client, token, small_book):
    auth = token(Role.COMPLIANCE)
    _block_read_log_inserts()
    response = _lookup(client, auth, id_no="440106198005061234")
    assert response.status_code == 503
    assert "张" not in response.content.decode()


def test_odd_list_parameters_are_answered_not_a_500(client, token):
    """Found by schemathesis on PostgreSQL: NUL in a text parameter and offsets beyond 64 bits."""
    auth = token(Role.COMPLIANCE)
    assert client.get(f"/api/v1/extractions?offset={2**70}", **auth).json() == []
    nul = client.get("/api/v1/extractions?state=a%00b", **auth)  # refused before the view, named
    assert nul.status_code == 400 and nul.json() == {"detail": "NUL character in query parameter 'state'"}
    assert client.get(f"/api/v1/loads?offset={2**90}", **auth).json() == []
    assert client.get(f"/api/v1/findings?offset={2**90}", **auth).json()["items"] == []
