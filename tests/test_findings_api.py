"""/api/v1/findings: filters, scope (an agent sees only their own portfolio), masking, read log, 404."""

import pytest

from custos.audit.models import AuditEntry
from custos.checks.models import Finding
from custos.checks.services import run_check
from tests.test_findings_support import (
    FINDINGS,
    findings_table,
    install_fakes,
    make_book,
    make_load,
    make_user,
    token_for,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(tmp_path, monkeypatch, django_user_model):
    load = make_load(tmp_path)
    make_book(load)
    install_fakes(monkeypatch, [findings_table(FINDINGS), findings_table(FINDINGS[1:])])
    first = run_check()
    second = run_check()  # closes ID03 on P1
    users = {
        "compliance": make_user(django_user_model, "comp", "compliance"),
        "agent": make_user(django_user_model, "a1", "agent", staff_no="A1"),
        "bank_gd": make_user(
            django_user_model, "cm", "channel_manager", channel="bancassurance", branch_code="GD"
        ),
        "partner": make_user(django_user_model, "bank", "partner_staff", partner_code="BANK1"),
        "nobody": django_user_model.objects.create_user("np"),
    }
    return {"runs": (first, second), "users": users}


def get(client, user, path, **params):
    resp = client.get("/api/v1/findings" + path, params, HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
    return resp


def ids(resp):
    return sorted((i["check"], i["policy_no"]) for i in resp.json()["items"])


def test_requires_a_token(client, setup):
    assert client.get("/api/v1/findings").status_code == 401


def test_compliance_lists_open_findings_masked_and_the_read_is_logged(client, setup):
    resp = get(client, setup["users"]["compliance"], "")
    assert resp.status_code == 200
    body = resp.json()
    assert body["count"] == 4 and body["limit"] == 50
    by_check = {i["check"]: i for i in body["items"]}
    assert by_check["PH02"]["value"] == "138****5678"  # masked as a mobile
    assert by_check["PH02"]["category"] == "false" and by_check["PH02"]["channel"] == "bancassurance"
    assert by_check["PH02"]["opened_run"] == setup["runs"][0].pk
    assert by_check["PH02"]["last_seen_run"] == setup["runs"][1].pk
    log = AuditEntry.objects.filter(model="finding", action="api").latest("seq")
    assert sorted(log.record_id_list) == sorted(i["id"] for i in body["items"]) and log.username == "comp"


@pytest.mark.parametrize(
    "params,expected",
    [
        ({"check": "PH06"}, [("PH06", "P3")]),
        ({"category": "missing"}, [("ID01", "P2"), ("SC04", "P4")]),
        ({"severity": "medium"}, [("SC04", "P4")]),
        ({"status": "closed"}, [("ID03", "P1")]),
        ({"status": "all", "policy_no": "P1"}, [("ID03", "P1"), ("PH02", "P1")]),
        ({"channel": "agency"}, [("PH06", "P3"), ("SC04", "P4")]),
        ({"branch": "GD"}, [("ID01", "P2"), ("PH02", "P1"), ("PH06", "P3")]),  # subtree: GZ and SZ
        ({"branch": "GZ"}, [("PH02", "P1"), ("PH06", "P3")]),
        ({"agent": "A3"}, [("SC04", "P4")]),
        ({"partner": "BANK1"}, [("ID01", "P2"), ("PH02", "P1")]),
        ({"opened_run": "RUN1", "status": "all"}, "all5"),
        ({"closed_run": "RUN2", "status": "closed"}, [("ID03", "P1")]),
        ({"run": "RUN1", "status": "all"}, "all5"),
        ({"run": "RUN2", "status": "all"}, [("ID01", "P2"), ("PH02", "P1"), ("PH06", "P3"), ("SC04", "P4")]),
        ({"load": "LOAD"}, [("ID01", "P2"), ("PH02", "P1"), ("PH06", "P3"), ("SC04", "P4")]),
        ({"load": "999"}, []),
    ],
)
def test_filters(client, setup, params, expected):
    first, second = setup["runs"]
    subst = {"RUN1": str(first.pk), "RUN2": str(second.pk), "LOAD": str(first.load_id)}
    params = {k: subst.get(v, v) for k, v in params.items()}
    if expected == "all5":
        expected = sorted((f[0], f[1]) for f in FINDINGS)
    resp = get(client, setup["users"]["compliance"], "", **params)
    assert resp.status_code == 200, resp.content
    assert ids(resp) == expected


def test_bad_status_is_400(client, setup):
    assert get(client, setup["users"]["compliance"], "", status="maybe").status_code == 400


def test_pagination(client, setup):
    resp = get(client, setup["users"]["compliance"], "", limit=3, offset=0, status="all")
    body = resp.json()
    assert body["count"] == 5 and len(body["items"]) == 3
    more = get(client, setup["users"]["compliance"], "", limit=3, offset=3, status="all").json()
    assert len(more["items"]) == 2
    assert not {i["id"] for i in body["items"]} & {i["id"] for i in more["items"]}


@pytest.mark.parametrize(
    "who,expected",
    [
        ("agent", [("PH02", "P1"), ("PH06", "P3")]),  # own portfolio: P1, P3
        ("bank_gd", [("ID01", "P2"), ("PH02", "P1")]),  # bancassurance in GD's subtree
        ("partner", [("ID01", "P2"), ("PH02", "P1")]),
        ("nobody", []),  # no profile: nothing
    ],
)
def test_scope(client, setup, who, expected):
    resp = get(client, setup["users"][who], "")
    assert ids(resp) == expected
    assert get(client, setup["users"][who], "/summary").json()["total"] == len(expected)


def test_one_finding_explained_and_out_of_scope_is_404(client, setup):
    agent = setup["users"]["agent"]
    mine = Finding.objects.get(check_code="PH02")
    resp = get(client, agent, f"/{mine.pk}")
    assert resp.status_code == 200
    body = resp.json()
    assert body["value"] == "138****5678" and body["message_zh"] == "手机号无效" and body["basis"] == "M82"
    assert body["message_en"] == "Invalid mobile"
    theirs = Finding.objects.get(check_code="SC04")  # P4, agent A3
    resp = get(client, agent, f"/{theirs.pk}")
    assert resp.status_code == 404
    assert AuditEntry.objects.filter(username="a1", model="finding", outcome="denied").exists()
    assert get(client, agent, "/999999").status_code == 404


def test_summary_counts(client, setup):
    body = get(client, setup["users"]["compliance"], "/summary", status="all").json()
    assert body["total"] == 5
    assert body["by_category"] == {"false": 2, "missing": 2, "suspicious": 1}
    assert body["by_status"] == {"closed": 1, "open": 4}
    assert body["by_check"]["ID03"] == 1
    assert body["by_channel"] == {"agency": 2, "bancassurance": 3}
    body = get(client, setup["users"]["compliance"], "/summary", channel="agency").json()
    assert body["by_severity"] == {"high": 1, "medium": 1}


def test_read_log_failure_returns_nothing(client, setup, monkeypatch):
    from custos.access import readlog

    def broken(**kwargs):
        raise readlog.ReadLogUnavailable("down")

    monkeypatch.setattr(readlog, "append", broken)
    resp = get(client, setup["users"]["compliance"], "")
    assert resp.status_code == 503 and "items" not in resp.json()
