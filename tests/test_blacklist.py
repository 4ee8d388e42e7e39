"""The industry blacklist exchange in one process (custos.blacklist): the association's list (files,
encryption at rest, versions), the look-up endpoint's refusals (malformed, replayed, stale, over the
rate limit, not a member), members confined to the look-up, and a member's check through the test
client. The two-instance test over HTTP is tests/test_blacklist_exchange.py."""

from __future__ import annotations

import base64
import csv
import json
import time

import private_set_intersection.python as psi
import pytest
from django.db import connection

from custos.access.models import Role
from custos.api.models import ApiToken
from custos.blacklist.models import Entry, ListVersion, Lookup
from custos.blacklist.services import association, member
from custos.blacklist.services.files import FileError, normalise_id
from custos.domain import ids
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def valid_id(body17: str) -> str:
    return body17 + ids.check_digit(body17)


LISTED = [valid_id("11010519800501031"), valid_id("44010619900101123"), valid_id("31010119750615002")]
OTHERS = [valid_id("32010219850707123"), valid_id("51010719921130456"), valid_id("12010119880808777")]


def write_list(path, rows, header=("id_no", "name", "company", "reason", "dismissed_on")):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def listed_rows():
    return [(n, f"黑名单{i}", "甲人寿", "倒卖客户信息", "2025-03-01") for i, n in enumerate(LISTED)]


@pytest.fixture
def assoc(settings, tmp_path):
    settings.CUSTOS_BLACKLIST_ROLE = "association"
    settings.CUSTOS_BLACKLIST_MAX_REQUESTS = 3
    settings.CUSTOS_BLACKLIST_MAX_ITEMS = 10
    association.add_file(write_list(tmp_path / "list.csv", listed_rows()))
    user = make_user("m1", Role.MEMBER)
    return {"member": user, "token": ApiToken.issue(user, "exchange")[1]}


def body(version: int, numbers: list[str], *, nonce: str | None = None, ts: int | None = None) -> dict:
    client = psi.client.CreateWithNewKey(True)
    req = client.CreateRequest(numbers)
    return {
        "version": version,
        "nonce": nonce or ("n" + str(time.monotonic_ns()))[:32].ljust(16, "0"),
        "timestamp": int(time.time()) if ts is None else ts,
        "request": base64.b64encode(req.SerializeToString()).decode(),
    }, client


def post(client, token, payload, path="lookup"):
    data = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
    return client.post(
        f"/api/v1/blacklist/{path}",
        data,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


# --- files and the list --------------------------------------------------------------------------


def test_ids_are_validated_and_normalised():
    n = LISTED[0]
    assert normalise_id("110105800501031") == (n, "")  # 15 digits: century and check digit added
    assert normalise_id(" " + n + " ") == (n, "")
    assert normalise_id(n.translate(str.maketrans("0123456789", "０１２３４５６７８９"))) == (n, "")
    assert normalise_id(n[:17] + ("0" if n[17] != "0" else "1")) == (None, "wrong check digit")
    body = next(
        f"11010519800501{i:03d}" for i in range(1000) if ids.check_digit(f"11010519800501{i:03d}") == "X"
    )
    assert normalise_id(body + "x") == (body + "X", "")
    assert normalise_id("  ") == (None, "empty ID number")
    assert normalise_id("11010519801301031X")[0] is None  # month 13
    assert normalise_id("abc")[1].startswith("not an 18-digit")


def test_add_is_all_or_nothing_with_errors_naming_file_row_and_column(settings, tmp_path):
    settings.CUSTOS_BLACKLIST_ROLE = "association"
    bad = listed_rows() + [
        ("110105198005010319", "某", "乙", "泄露", "2025-01-01"),
        (LISTED[0], "", "", "", "x"),
    ]
    with pytest.raises(FileError) as err:
        association.add_file(write_list(tmp_path / "bad.csv", bad))
    text = str(err.value)
    assert "bad.csv: row 5: column id_no: wrong check digit" in text
    assert "bad.csv: row 6: column id_no: the same person as row 2" in text
    assert "row 6: column dismissed_on" in text and "row 6: column name: empty" in text
    assert Entry.objects.count() == 0 and ListVersion.objects.count() == 0
    with pytest.raises(FileError, match="missing column"):
        association.add_file(write_list(tmp_path / "cols.csv", [("1",)], header=("id",)))
    version, n = association.add_file(write_list(tmp_path / "ok.csv", listed_rows()))
    assert (n, version.number, version.entries) == (3, 1, 3)
    with pytest.raises(FileError, match="ok.csv: row 2: column id_no: already listed"):
        association.add_file(tmp_path / "ok.csv")
    version, n = association.remove(LISTED[1])
    assert (n, version.number, version.entries) == (1, 2, 2)
    with pytest.raises(FileError, match="not listed"):
        association.remove(LISTED[1])


def test_a_member_custos_cannot_keep_the_list(tmp_path):
    with pytest.raises(association.NotAssociation):
        association.add_file(write_list(tmp_path / "l.csv", listed_rows()))


def test_listed_id_numbers_are_encrypted_at_rest(assoc):
    with connection.cursor() as c:
        c.execute("SELECT id_no, name, reason FROM blacklist_entry")
        stored = c.fetchall()
    assert len(stored) == 3
    for id_no, name, reason in stored:
        assert id_no.startswith("e1:") and name.startswith("e1:") and reason.startswith("e1:")
    dump = json.dumps(stored)
    assert not any(n in dump for n in LISTED)
    assert sorted(e.id_no for e in Entry.objects.all()) == sorted(LISTED)


def test_every_version_has_its_own_key_and_setup(assoc, tmp_path):
    v1, setup1 = association.setup_message()
    association.rotate()
    v2, setup2 = association.setup_message()
    assert v2 == v1 + 1 and setup1 != setup2
    assert len(set(ListVersion.objects.values_list("psi_key", flat=True))) == 2
    with connection.cursor() as c:
        c.execute("SELECT psi_key FROM blacklist_listversion")
        assert all(k.startswith("e1:") for (k,) in c.fetchall())  # sealed at rest


# --- the endpoint ----------------------------------------------------------------------------------


def test_lookup_finds_exactly_the_listed_candidates(client, assoc):
    got = client.get("/api/v1/blacklist/setup", HTTP_AUTHORIZATION=f"Bearer {assoc['token']}").json()
    setup = psi.ServerSetup()
    setup.ParseFromString(base64.b64decode(got["setup"]))
    candidates = [OTHERS[0], LISTED[2], OTHERS[1], LISTED[0]]
    payload, psi_client = body(got["version"], candidates)
    resp = post(client, assoc["token"], payload)
    assert resp.status_code == 200, resp.content
    response = psi.Response()
    response.ParseFromString(base64.b64decode(resp.json()["response"]))
    assert sorted(psi_client.GetIntersection(setup, response)) == [1, 3]
    # the member already has this version: no setup again
    again = client.get(
        f"/api/v1/blacklist/setup?have={got['version']}", HTTP_AUTHORIZATION=f"Bearer {assoc['token']}"
    )
    assert again.json()["setup"] is None
    lookup = Lookup.objects.get()
    assert (lookup.member, lookup.items) == (assoc["member"], 4)


def test_malformed_replayed_and_stale_requests_are_refused(client, assoc):
    token = assoc["token"]
    version = association.setup_message()[0]
    for bad, why in [
        ("not json", "malformed JSON"),
        ("[1, 2]", "JSON object"),
        ({"version": version}, "missing field"),
        ({**body(version, OTHERS[:1])[0], "request": "%%%"}, "not a base64-encoded PSI request"),
        (
            {**body(version, OTHERS[:1])[0], "request": base64.b64encode(b"\xff\x00garbage").decode()},
            "PSI request",
        ),
        ({**body(version, OTHERS[:1])[0], "nonce": "short"}, "nonce"),
        (body(version, OTHERS[:1], ts=int(time.time()) - 3600)[0], "timestamp"),
    ]:
        resp = post(client, token, bad)
        assert resp.status_code == 400, (bad, resp.content)
        assert why in resp.json()["detail"], resp.json()
    point = psi.Request()
    point.reveal_intersection = True
    point.encrypted_elements.append(b"\x02" + b"\xff" * 32)  # not on the curve
    resp = post(
        client,
        token,
        {**body(version, OTHERS[:1])[0], "request": base64.b64encode(point.SerializeToString()).decode()},
    )
    assert resp.status_code == 400 and "curve" in resp.json()["detail"]
    payload = body(version, OTHERS[:2])[0]
    assert post(client, token, payload).status_code == 200
    replay = post(client, token, payload)
    assert replay.status_code == 409 and "replayed" in replay.json()["detail"]
    stale = post(client, token, body(version - 1 if version > 1 else version + 5, OTHERS[:1])[0])
    assert stale.status_code == 409 and "stale version" in stale.json()["detail"]
    assert Lookup.objects.count() == 1  # only the one answered


def test_a_member_over_its_rate_limit_is_throttled(client, assoc):
    version = association.setup_message()[0]
    token = assoc["token"]
    assert post(client, token, body(version, OTHERS[:3] + LISTED[:3])[0]).status_code == 200  # 6 items
    over_items = post(client, token, body(version, OTHERS[:3] + LISTED[:2])[0])  # 6 + 5 > 10
    assert over_items.status_code == 429 and "rate limit" in over_items.json()["detail"]
    assert post(client, token, body(version, OTHERS[:1])[0]).status_code == 200
    assert post(client, token, body(version, OTHERS[:1])[0]).status_code == 200
    over_requests = post(client, token, body(version, OTHERS[:1])[0])  # the 4th of 3
    assert over_requests.status_code == 429
    other = make_user("m2", Role.MEMBER)  # the limit is per member
    assert post(client, ApiToken.issue(other, "x")[1], body(version, OTHERS[:1])[0]).status_code == 200


def test_only_members_may_look_up_and_members_nothing_else(client, assoc):
    compliance = make_user("co", Role.COMPLIANCE)
    token = ApiToken.issue(compliance, "x")[1]
    version = association.setup_message()[0]
    assert post(client, token, body(version, OTHERS[:1])[0]).status_code == 403
    assert client.get("/api/v1/blacklist/setup", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 403
    m = assoc["token"]
    for path in ("/api/v1/loads", "/api/v1/customers", "/api/v1/findings"):
        resp = client.get(path, HTTP_AUTHORIZATION=f"Bearer {m}")
        assert resp.status_code == 403, path
    client.force_login(assoc["member"])
    for path in ("/", "/parties/", "/findings/", "/me/access/"):
        assert client.get(path).status_code == 403, path


def test_the_lookup_is_audited_with_counts_only(client, assoc):
    from custos.audit.models import ChangeEvent

    version = association.setup_message()[0]
    payload = body(version, [OTHERS[2], LISTED[1]])[0]
    assert post(client, assoc["token"], payload).status_code == 200
    event = ChangeEvent.objects.filter(action="blacklist.lookup").get()
    assert event.actor_id == assoc["member"].pk
    with connection.cursor() as c:
        c.execute("SELECT * FROM audit_changeevent")
        everything = json.dumps(c.fetchall(), default=str)
    assert payload["request"] not in everything and OTHERS[2] not in everything


# --- a member's check, through the test client ------------------------------------------------------


@pytest.fixture
def via_client(client, assoc, settings, monkeypatch):
    """member._call goes to this process's association endpoints through the test client."""
    settings.CUSTOS_BLACKLIST_URL = "http://association.test"
    token = assoc["token"]

    def call(method, path, data=None):
        url = f"/api/v1/blacklist/{path}"
        resp = (
            client.get(url, HTTP_AUTHORIZATION=f"Bearer {token}")
            if method == "GET"
            else post(client, token, data, path)
        )
        if resp.status_code >= 400:
            raise member.ExchangeError(resp.status_code, resp.json()["detail"])
        return resp.json()

    monkeypatch.setattr(member, "_call", call)
    member._setups.clear()


def test_check_file_writes_the_hits(via_client, tmp_path):
    cand = tmp_path / "cand.csv"
    fifteen = LISTED[0][:6] + LISTED[0][8:17]  # the 15-digit form of a listed number
    write_list(
        cand, [(OTHERS[0], "甲"), (fifteen, "乙"), (LISTED[2].lower(), "丙")], header=("id_no", "name")
    )
    out = tmp_path / "out.json"
    result = member.check_file(cand, out)
    assert json.loads(out.read_text()) == {"hits": [LISTED[0], LISTED[2]]}
    assert result.version == ListVersion.objects.get().number
    bad = write_list(tmp_path / "bad.csv", [(OTHERS[0],), ("12345",)], header=("id_no",))
    with pytest.raises(FileError, match="bad.csv: row 3: column id_no"):
        member.check_file(bad, out)


def test_a_stale_setup_is_fetched_again(via_client, tmp_path):
    assert member.check_ids([LISTED[0]]).hits == [LISTED[0]]
    association.remove(LISTED[0])  # a new version, a new key
    result = member.check_ids([LISTED[0], LISTED[1]])
    assert result.hits == [LISTED[1]] and result.version == 2


def test_approved_nominations_travel_to_the_association(via_client, assoc):
    import datetime as dt

    from django.utils import timezone

    from custos.blacklist.models import Received
    from custos.book.models import BookLoad, Staff
    from custos.discipline.models import Nomination, Violation

    load = BookLoad.objects.create(source_name="n", sha256="0" * 64, status="done")
    Staff.objects.create(
        staff_no="S9", name="倒卖者", id_type="resident_id", id_no=OTHERS[2].lower(), branch_code="GZ",
        position="agent", first_load=load, last_load=load,
    )  # fmt: skip
    v = Violation.objects.create(
        kind=Violation.Kind.RESALE, staff_no="S9", source=Violation.Source.MANUAL,
        proposed_at=timezone.now(), proposed_by_name="system",
    )  # fmt: skip
    n = Nomination.objects.create(
        violation=v, staff_no="S9", reason="倒卖客户信息", dismissed_on=dt.date(2026, 11, 30),
        status=Nomination.Status.APPROVED, created_at=timezone.now(),
    )  # fmt: skip
    Nomination.objects.create(
        violation=Violation.objects.create(
            kind=Violation.Kind.RESALE,
            staff_no="S9",
            source=Violation.Source.MANUAL,
            proposed_at=timezone.now(),
            proposed_by_name="system",
        ),
        staff_no="S9",
        reason="未批准",
        dismissed_on=dt.date(2026, 11, 30),
        created_at=timezone.now(),
    )  # fmt: skip (proposed, not approved: stays home)
    assert member.send_nominations() == (1, "")
    n.refresh_from_db()
    assert n.status == Nomination.Status.SENT
    got = Received.objects.get()
    assert (got.id_no, got.name, got.reference, got.member) == (
        OTHERS[2],
        "倒卖者",
        f"N{n.pk}",
        assoc["member"],
    )
    assert member.send_nominations() == (0, "")  # nothing approved is left
    association.accept([got.pk])
    assert member.check_ids([OTHERS[2], OTHERS[0]]).hits == [OTHERS[2]]
