"""Online screening: POST /api/v1/screen — verdicts, idempotency, key scope and rate, malformed input,
oversized bodies, cross-record checks across successive calls, and parity with the batch engine."""

from __future__ import annotations

import json
import re

import pytest

from custos.screening.models import Client, ContextParty, Screening

pytestmark = pytest.mark.django_db

URL = "/api/v1/screen"


@pytest.fixture
def home(custos_home):
    return custos_home


def key(name="core", **scope):
    return Client.issue(name, **scope)[1]


def post(client, secret, doc, **extra):
    body = doc if isinstance(doc, (str, bytes)) else json.dumps(doc, ensure_ascii=False)
    return client.post(
        URL, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {secret}", **extra
    )


def rid(birth: str, serial: str = "031") -> str:
    """A valid resident ID number (Beijing Chaoyang, male serial by default) for a birth date."""
    from custos.domain.ids import check_digit

    body = "110105" + birth.replace("-", "") + serial
    return body + check_digit(body)


def person(role="applicant", seq=1, **kw):
    row = {
        "role": role,
        "seq": seq,
        "name": "王建国",
        "gender": "M",
        "birth_date": "1980-05-01",
        "id_type": "resident_id",
        "id_no": rid("1980-05-01"),
        "mobile": "13957468213",
        "address": "北京市朝阳区建国路88号3栋402室",
        "postcode": "100022",
    }
    if role != "applicant":
        row["relation"] = "self"
    row.update(kw)
    return row


def application(app_id="A1", policy_no="N1", parties=None, **policy):
    pol = {
        "policy_no": policy_no,
        "channel": "agency",
        "branch_code": "BJ",
        "agent_no": "S1",
        "partner_code": "",
        "applied_on": "2024-01-10",
        "status": "in_force",
    }
    pol.update(policy)
    return {
        "application_id": app_id,
        "policy": pol,
        "parties": parties if parties is not None else [person(), person("insured")],
    }


def test_pass(client, home):
    secret = key()
    resp = post(client, secret, application())
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["verdict"] == "pass" and body["findings"] == [], body["findings"]
    s = Screening.objects.get()
    assert (s.client.name, s.application_id, s.verdict, s.policy_no) == ("core", "A1", "pass", "N1")
    # the screened parties are in the context store, sealed, with blind-index keys
    rows = ContextParty.objects.filter(policy_no="N1")
    assert rows.count() == 2 and all(r.k_id and r.k_mobile for r in rows)
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(f"SELECT payload FROM {ContextParty._meta.db_table}")
        assert all(rid("1980-05-01") not in p and p.startswith("e1:") for (p,) in cur.fetchall())


def test_reject_with_explanations_and_no_values_echoed(client, home):
    secret = key()
    bad_id = rid("1980-05-01")[:17] + ("1" if rid("1980-05-01")[17] != "1" else "2")
    doc = application(parties=[person(id_no=bad_id), person("insured", id_no=bad_id)])
    resp = post(client, secret, doc)
    body = resp.json()
    assert body["verdict"] == "reject"
    f = next(f for f in body["findings"] if f["code"] == "ID03")
    assert f["field"] == "id_no" and f["message_zh"] == "身份证号码校验位错误" and f["blocking"] == "reject"
    assert f["message_en"] == "Check digit of the ID number is wrong"
    assert bad_id not in resp.content.decode()  # values sent are not echoed


def test_refer(client, home):
    secret = key()
    # AD06 (postcode of another province) is low severity and not blocking: refer
    doc = application(parties=[person(postcode="510000"), person("insured", postcode="510000")])
    resp = post(client, secret, doc)
    body = resp.json()
    assert body["verdict"] == "refer", body
    assert [f["code"] for f in body["findings"]] == ["AD06"]
    assert body["findings"][0]["blocking"] == "refer"


def test_idempotent_by_application_id(client, home):
    secret = key()
    first = post(client, secret, application(parties=[person(mobile="13800138000"), person("insured")]))
    again = post(client, secret, application(parties=[person(), person("insured")]))  # a retry, even changed
    assert again.status_code == 200 and again["Idempotent-Replay"] == "true"
    assert again.json() == first.json()
    assert Screening.objects.count() == 1


def test_scope_of_keys(client, home):
    bank = key("bank-a", partner_codes=["BK1"])
    ok = post(client, bank, application(partner_code="BK1", channel="bancassurance"))
    assert ok.status_code == 200
    other = post(client, bank, application("A2", "N2", partner_code="BK2", channel="bancassurance"))
    assert other.status_code == 403 and "own outlets" in other.json()["detail"]
    direct = post(client, bank, application("A3", "N3"))
    assert direct.status_code == 403
    assert Screening.objects.count() == 1


def test_keys_users_and_revocation(client, home):
    from custos.access.models import Role
    from custos.api.models import ApiToken
    from tests.conftest import make_user

    user = make_user("cmp", Role.COMPLIANCE)
    token = ApiToken.issue(user, "t")[1]
    assert post(client, token, application()).status_code == 401  # a user token is not a system key
    assert post(client, "cs_nope", application()).status_code == 401
    assert client.post(URL, "{}", content_type="application/json").status_code == 401


def test_rate_limit(client, home):
    secret = key(rate_per_minute=2)
    codes = [post(client, secret, application(f"A{i}", f"N{i}")).status_code for i in range(3)]
    assert codes == [200, 200, 429]


def test_malformed_json_and_field_errors(client, home):
    secret = key()
    resp = post(client, secret, '{"application_id": "A1", "policy": ')
    assert resp.status_code == 400 and resp.json()["errors"][0]["message"].startswith("malformed JSON")
    resp = post(client, secret, "[1, 2]")
    assert resp.status_code == 400
    bad = application(parties=[person(birth_date="1980-13-45", seq="x", colour="red"), {"role": "boss"}])
    bad["policy"]["applied_on"] = "yesterday"
    del bad["policy"]["branch_code"]
    bad["extra"] = 1
    resp = post(client, secret, bad)
    assert resp.status_code == 400
    fields = {e["field"] for e in resp.json()["errors"]}
    assert {
        "extra",
        "policy.applied_on",
        "policy.branch_code",
        "parties[0].birth_date",
        "parties[0].seq",
        "parties[0].colour",
        "parties[1].role",
        "parties[1].seq",
    } <= fields, fields
    assert Screening.objects.count() == 0


def test_oversized_body(client, home, settings):
    settings.CUSTOS_SCREEN_MAX_BYTES = 2000
    secret = key()
    doc = application(parties=[person(address="北京市朝阳区建国路" + "8" * 3000), person("insured")])
    resp = post(client, secret, doc)
    assert resp.status_code == 413
    assert Screening.objects.count() == 0


def test_cross_record_across_calls(client, home):
    """One agent's phone on applications of different families: caught from the third (PH06's
    min_applicants = 3 from the catalogue's settings), and each screening feeds the next."""
    secret = key()
    names = ["赵一鸣", "钱二强", "孙三立", "李四海", "周五福"]
    verdicts = []
    for i, name in enumerate(names):
        birth = f"198{i}-0{5 + i}-0{1 + i}"
        p = person(
            name=name,
            id_no=rid(birth),
            birth_date=birth,
            mobile="13966661234",
            address=f"北京市朝阳区建国路{10 + i}号{i + 1}栋402室",
        )
        body = post(
            client,
            secret,
            application(f"A{i}", f"N{i}", parties=[p, {**p, "role": "insured", "relation": "self"}]),
        ).json()
        verdicts.append(sorted({f["code"] for f in body["findings"]}))
    assert verdicts[:2] == [[], []]
    assert all("PH06" in v for v in verdicts[2:]), verdicts


def test_same_id_other_name_across_calls(client, home):
    secret = key()
    post(client, secret, application("A1", "N1"))
    body = post(
        client,
        secret,
        application("A2", "N2", parties=[person(name="冒名顶"), person("insured", name="冒名顶")]),
    ).json()
    assert "ID09" in {f["code"] for f in body["findings"]}


def test_batch_file_command(home, tmp_path):
    import csv

    from django.core.management import CommandError, call_command

    cols = [
        "policy_no",
        "channel",
        "branch_code",
        "agent_no",
        "applied_on",
        "role",
        "seq",
        "relation",
        "name",
        "gender",
        "birth_date",
        "id_type",
        "id_no",
        "mobile",
        "address",
    ]
    good = person()
    bad = person(id_no=rid("1980-05-01")[:17] + ("1" if rid("1980-05-01")[17] != "1" else "2"))
    rows = []
    for pno, p in (("B1", good), ("B2", bad)):
        for role in ("applicant", "insured"):
            q = {**p, "role": role, "relation": "" if role == "applicant" else "self"}
            rows.append([pno, "个险", "BJ", "S1", "2024/01/10", *(q.get(c, "") for c in cols[5:])])
    rows.append(["B3", "agency", "BJ", "S1", "2024-01-10", "applicant", "1", "", "李雷", "M", "not a date"])
    src = tmp_path / "daily.csv"
    with src.open("w", encoding="gb18030", newline="") as f:
        csv.writer(f).writerows([cols, *rows])
    out = tmp_path / "result.csv"
    call_command("screen", str(src), out=str(out))
    result = {r["policy_no"]: r for r in csv.DictReader(out.open(encoding="utf-8-sig"))}
    assert result["B1"]["verdict"] == "pass", result["B1"]["messages_zh"]
    assert result["B2"]["verdict"] == "reject" and "ID03" in result["B2"]["codes"]
    assert result["B3"]["verdict"] == "error" and "birth_date" in result["B3"]["messages_zh"]
    assert Screening.objects.filter(client__name="batch").count() == 2
    with pytest.raises(CommandError, match="no such file"):
        call_command("screen", str(tmp_path / "missing.csv"))


def test_compliance_page_and_drill_down(client, home):
    from custos.access.models import Role
    from custos.audit.models import AuditEntry
    from tests.conftest import make_user

    secret = key()
    bad_mobile = "13900000000"
    post(client, secret, application(parties=[person(mobile=bad_mobile), person("insured")], agent_no="S9"))
    post(client, secret, application("A2", "N2", agent_no="S9"))
    client.force_login(make_user("cmp", Role.COMPLIANCE))
    page = client.get("/screening/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="kpi-screenings">2<' in html and "S9" in html and "50.0%" in html
    rows = re.findall(r'<tr class="verdict-(\w+)">(.*?)</tr>', html, re.S)
    assert len(rows) == 2
    for verdict, cells in rows:  # the verdict in the clerk's words, not the API's code
        assert f"<td>{ {'pass': '通过', 'refer': '转人工', 'reject': '拒绝'}[verdict] }</td>" in cells
        assert f"<td>{verdict}</td>" not in cells
    s = Screening.objects.get(application_id="A1")
    before = AuditEntry.objects.count()
    detail = client.get(f"/screening/{s.pk}/")
    assert detail.status_code == 200
    body = detail.content.decode()
    assert "PH03" in body and bad_mobile not in body and "139****0000" in body
    assert AuditEntry.objects.count() == before + 1
    client.force_login(make_user("agent", Role.AGENT, staff_no="S9"))
    assert client.get("/screening/").status_code == 403
    assert client.get(f"/screening/{s.pk}/").status_code == 403


def test_policy_change_screened_again(client, home):
    """A change (保全) is the policy's new full state plus its change rows: SC01 from the request's
    change without a request number; a beneficiary dropped by the change leaves the store."""
    secret = key()
    ben = person(
        "beneficiary", name="王小明", id_no=rid("2010-03-04"), birth_date="2010-03-04", relation="son"
    )
    doc = application(parties=[person(), person("insured"), ben], issued_on="2024-01-12")
    assert post(client, secret, doc).json()["verdict"] == "pass"
    assert ContextParty.objects.filter(policy_no="N1").count() == 3
    change = application(
        "C1", parties=[person(mobile="13957460000"), person("insured")], issued_on="2024-01-12"
    )
    change["changes"] = [
        {
            "role": "applicant",
            "seq": 1,
            "field": "mobile",
            "old_value": "13957468213",
            "new_value": "13957460000",
            "changed_at": "2024-06-01T10:00:00",
            "changed_by": "OP1",
            "request_no": "",
        }
    ]
    body = post(client, secret, change).json()
    assert {(f["code"], f["field"]) for f in body["findings"]} == {("SC01", "mobile")}
    assert ContextParty.objects.filter(policy_no="N1").count() == 2


def test_batch_workbook_in_book_format(home, tmp_path):
    """A partner's day as an .xlsx workbook with policies and parties sheets; a party whose policy is
    missing stops the run with the sheet, row and column named, and nothing is screened."""
    import csv

    import openpyxl
    from django.core.management import CommandError, call_command

    def workbook(path, parties_rows):
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "policies"
        ws.append(
            [
                "policy_no",
                "channel",
                "branch_code",
                "agent_no",
                "partner_code",
                "applied_on",
                "issued_on",
                "status",
            ]
        )
        ws.append(["X1", "银保", "GZ", "S1", "BK1", "2024-01-10", "", "in_force"])
        ws2 = wb.create_sheet("parties")
        cols = [
            "policy_no",
            "role",
            "seq",
            "relation",
            "name",
            "gender",
            "birth_date",
            "id_type",
            "id_no",
            "mobile",
            "address",
        ]
        ws2.append(cols)
        for r in parties_rows:
            ws2.append(r)
        wb.save(path)

    p = person()
    row = [
        "X1",
        "投保人",
        1,
        "",
        p["name"],
        "男",
        "1980-05-01",
        "居民身份证",
        p["id_no"],
        p["mobile"],
        p["address"],
    ]
    good = tmp_path / "day.xlsx"
    workbook(good, [row, [*row[:1], "被保险人", 1, "本人", *row[4:]]])
    out = tmp_path / "out.csv"
    call_command("screen", str(good), out=str(out), client="bank-a")
    result = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert [(r["policy_no"], r["verdict"]) for r in result] == [("X1", "pass")]
    bad = tmp_path / "bad.xlsx"
    workbook(bad, [row, ["X9", *row[1:]]])
    with pytest.raises(CommandError, match=r"parties\] row 3 column policy_no"):
        call_command("screen", str(bad), out=str(tmp_path / "bad.csv"))
    assert Screening.objects.count() == 1


def test_book_load_rebuilds_the_context_store(home, tmp_path, django_capture_on_commit_callbacks):
    """A finished book load indexes its snapshot in the background (Huey task after commit)."""
    from huey.contrib.djhuey import HUEY

    from custos.book.services import load_book
    from custos.screening.models import IndexState
    from custos.synth import generate_book

    generate_book(tmp_path / "book", 40, 5)
    saved, HUEY.immediate = HUEY.immediate, True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            load = load_book(tmp_path / "book")
    finally:
        HUEY.immediate = saved
    assert load.status == "done"
    state = IndexState.objects.get()
    assert (
        state.load_id == load.pk and state.parties == ContextParty.objects.filter(source="book").count() > 40
    )


@pytest.mark.parametrize(
    "body",
    ["[" * 20000 + "]" * 20000, '{"a":' * 7000 + "1" + "}" * 7000],
    ids=["arrays", "objects"],
)
def test_deeply_nested_json_is_a_400(client, home, body):
    """A 40 KB body of nested brackets exhausts the JSON decoder's recursion: a 400 that says why."""
    assert len(body) < 64 * 1024
    resp = post(client, key(), body)
    assert resp.status_code == 400, resp.status_code
    assert resp.json()["errors"][0]["message"] == "malformed JSON: arrays and objects nested too deeply"
    assert Screening.objects.count() == 0


def test_compliance_page_refuses_days_it_cannot_show(client, home):
    from custos.access.models import Role
    from tests.conftest import make_user

    client.force_login(make_user("cmp", Role.COMPLIANCE))
    for day in ("9999-12-31", "0001-01-01", "2024-02-30", "yesterday"):
        resp = client.get("/screening/", {"day": day})
        assert resp.status_code == 400, (day, resp.status_code)
        assert "参数 day 应为 1900-01-01 至 9998-12-31 之间的日期" in resp.content.decode()
    for day in ("9998-12-31", "1900-01-01", "2024-01-10"):
        assert client.get("/screening/", {"day": day}).status_code == 200, day
    client.cookies["django_language"] = "en"
    resp = client.get("/screening/", {"day": "0001-01-01"})
    assert "The day parameter must be a date (YYYY-MM-DD) from 1900-01-01" in resp.content.decode()
