"""Customer information that cannot be altered unseen (custos.integrity, docs/security.md).

Every party, party-history, staff and partner row carries a keyed tag bound to its id, natural key
and every customer column as stored. An edit made behind custos's back — a name changed by SQL, two
customers' encrypted mobiles swapped, a history row deleted, a row inserted — is named by
`custos integrity verify` (exit 1) and refused on read through the access service (503, an audit
entry, a security alert). The loader, corrections, key rotation and blind-index key replacement
keep verify at 0."""

import io
import json
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from custos.access.readlog import ReadLogUnavailable
from custos.access.service import AccessContext
from custos.audit.models import AuditEntry
from custos.book.models import Partner, Party, PartyHistory, Staff
from custos.book.services import load_book
from custos.domain import masking
from custos.integrity import tags
from custos.integrity.errors import Tampered
from custos.integrity.models import IntegrityRun
from custos.watch.models import SecurityAlert
from tests.conftest import make_user
from tests.test_findings_support import open_finding

BASIC = Path(__file__).parent / "books" / "basic"
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _home(custos_home):
    return custos_home


def verify() -> tuple[bool, str]:
    """`custos integrity verify`: (exit 0?, stderr)."""
    err = io.StringIO()
    try:
        call_command("integrity", "verify", stdout=io.StringIO(), stderr=err)
    except CommandError:
        return False, err.getvalue()
    return True, err.getvalue()


def loaded_twice(tmp_path) -> None:
    """The basic book, then a changed copy: a first load (rows tagged as inserted) and a merge (new
    rows, changed rows with history, a row gone)."""
    assert load_book(BASIC).status == "done"
    book2 = tmp_path / "book2"
    shutil.copytree(BASIC, book2)
    text = (book2 / "parties.csv").read_text(encoding="utf-8")
    lines = text.splitlines()
    lines = [
        lines[0],
        *(ln.replace("13912345678", "13000000000").replace("张伟", "张维") for ln in lines[1:-1]),
    ]
    lines.append(lines[-1].replace(",1,", ",7,", 1))  # a new party
    (book2 / "parties.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert load_book(book2).status == "done"
    assert PartyHistory.objects.filter(field="mobile").exists()


def sql(statement: str, params=()) -> None:
    with connection.cursor() as cur:
        cur.execute(statement, list(params))


def read_policy(user, policy_no: str):
    ctx = AccessContext.for_user(user, client="10.0.0.9")
    return ctx.read_parties(ctx.parties().filter(policy_no=policy_no), action="lookup")


def test_a_clean_load_and_a_merge_verify(tmp_path):
    loaded_twice(tmp_path)
    ok, err = verify()
    assert ok, err
    run = IntegrityRun.objects.get()
    assert run.ok and run.checked["book_party"] == Party.objects.count() > 0
    assert run.checked["book_partyhistory"] == PartyHistory.objects.count() > 0
    assert AuditEntry.objects.filter(action="integrity_verify", outcome="ok").count() == 1
    assert not Party.objects.filter(integrity_tag="").exists()
    user = make_user("comp", "compliance")
    assert read_policy(user, "PL0001")  # intact rows read as before


def _tamper_name():
    p = Party.objects.order_by("id").first()
    sql("UPDATE book_party SET name = %s WHERE id = %s", ["李鬼", p.pk])
    return [p]


def _swap_mobiles():
    with connection.cursor() as cur:
        cur.execute("SELECT id, mobile FROM book_party WHERE mobile <> '' ORDER BY id")
        stored = dict(cur.fetchall())
    first = next(iter(stored))
    other = next(i for i, m in stored.items() if m != stored[first])
    a, b = Party.objects.get(pk=first), Party.objects.get(pk=other)
    with connection.cursor() as cur:
        cur.execute("UPDATE book_party SET mobile = %s WHERE id = %s", [stored[b.pk], a.pk])
        cur.execute("UPDATE book_party SET mobile = %s WHERE id = %s", [stored[a.pk], b.pk])
    return [a, b]


def _delete_history():
    h = PartyHistory.objects.order_by("id").first()
    sql("DELETE FROM book_partyhistory WHERE id = %s", [h.pk])
    return [Party.objects.get(policy_no=h.policy_no, role=h.role, seq=h.seq)]


def _insert_party():
    src = Party.objects.order_by("id").first()
    cols = [c for c, _k in tags.PARTY.columns if c != "seq"] + ["first_load_id", "last_load_id"]
    sql(
        f"INSERT INTO book_party ({', '.join(cols)}, seq) SELECT {', '.join(cols)}, 9 FROM book_party WHERE id = %s",
        [src.pk],
    )
    return [Party.objects.get(policy_no=src.policy_no, role=src.role, seq=9)]


@pytest.mark.parametrize(
    "tamper", [_tamper_name, _swap_mobiles, _delete_history, _insert_party], ids=lambda f: f.__name__[1:]
)
def test_an_edit_behind_custos_back_is_named_by_verify_and_refused_on_read(tmp_path, tamper, client):
    loaded_twice(tmp_path)
    assert verify()[0]
    victims = tamper()

    ok, err = verify()
    assert not ok
    lines = err.strip().splitlines()
    for p in victims:
        assert any(
            ln.startswith(f"FAIL book_party {p.policy_no}/{p.role}/{p.seq} (id {p.pk}):") for ln in lines
        ), err
    assert len(lines) == len(victims)
    run = IntegrityRun.objects.order_by("-id").first()
    assert not run.ok and run.failure_count == len(victims)
    assert AuditEntry.objects.filter(action="integrity_verify", outcome="failed").exists()

    user = make_user("comp", "compliance")
    with pytest.raises(Tampered) as exc:
        read_policy(user, victims[0].policy_no)
    assert isinstance(exc.value, ReadLogUnavailable)  # every interface fails closed on it
    entry = AuditEntry.objects.get(action="integrity_refused")
    assert (entry.username, entry.outcome, entry.purpose) == ("comp", "refused", "lookup")
    assert victims[0].pk in json.loads(entry.record_ids)
    assert SecurityAlert.objects.filter(kind="integrity", username="comp").exists()

    # the page answers 503 and shows nothing of the party
    client.force_login(user)
    r = client.get("/parties/", {"policy_no": victims[0].policy_no})
    assert r.status_code == 503
    body = r.content.decode()
    assert masking.mask_field("mobile", victims[0].mobile) not in body
    assert masking.mask_field("name", victims[0].name) not in body
    # an ORM write does not bless the altered row
    with pytest.raises(Tampered):
        Party.objects.filter(pk=victims[0].pk).update(occupation_code="X")


def test_history_rows_and_staff_and_partners_are_covered(tmp_path):
    loaded_twice(tmp_path)
    h = PartyHistory.objects.order_by("id").first()
    sql("UPDATE book_partyhistory SET new_value = old_value WHERE id = %s", [h.pk])
    sql(
        "INSERT INTO book_partyhistory (policy_no, role, seq, field, old_value, new_value, load_id) "
        "VALUES ('PL0001', 'applicant', 1, 'name', 'a', 'b', %s)",
        [h.load_id],
    )
    s = Staff.objects.order_by("id").first()
    sql("UPDATE book_staff SET left_on = NULL, name = 'X' WHERE id = %s", [s.pk])
    pt = Partner.objects.order_by("id").first()
    sql("UPDATE book_partner SET status = 'active', contract_until = '2099-12-31' WHERE id = %s", [pt.pk])
    ok, err = verify()
    assert not ok
    assert f"FAIL book_partyhistory {h.policy_no}/{h.role}/{h.seq}/{h.field} (id {h.pk}):" in err
    assert "FAIL book_partyhistory PL0001/applicant/1/name" in err and "no integrity tag" in err
    assert f"FAIL book_staff {s.staff_no} (id {s.pk}):" in err
    assert f"FAIL book_partner {pt.partner_code} (id {pt.pk}):" in err
    # a party whose history holds a row that fails is refused on read
    with pytest.raises(Tampered):
        read_policy(make_user("comp", "compliance"), "PL0001")


def test_verify_json_and_the_cap(tmp_path):
    loaded_twice(tmp_path)
    sql("UPDATE book_party SET name = name || 'x'")
    out = tmp_path / "v.json"
    with pytest.raises(CommandError):
        call_command("integrity", "verify", "--json", str(out), stdout=io.StringIO(), stderr=io.StringIO())

    data = json.loads(out.read_text())
    assert data["ok"] is False and data["failure_count"] == Party.objects.count()
    assert {f["table"] for f in data["failures"]} == {"book_party"}


def test_a_correction_applied_through_remediation_keeps_verify_at_0(small_book):
    from custos.checks.models import CheckRun
    from custos.remediation import services as svc
    from custos.remediation.models import Task

    assert verify()[0]  # rows written through the ORM are tagged
    run = CheckRun.objects.create(load=small_book, status=CheckRun.Status.RUNNING)
    open_finding(run, "P1", code="NM02", field="name", value="张三伟")
    svc.sync_tasks(run)
    task = Task.objects.get(policy_no="P1", status="open")
    agent, cs = make_user("agent1", "agent", staff_no="A1"), make_user("cs1", "customer_service")
    c = svc.propose_correction(task, agent, "name", "张三丰")
    svc.review_correction(c, cs, approve=True)
    assert Party.objects.get(policy_no="P1", role="applicant").name == "张三丰"
    ok, err = verify()
    assert ok, err
    assert read_policy(make_user("comp", "compliance"), "P1")


def test_key_rotation_and_index_key_replacement_keep_verify_at_0(tmp_path):
    from custos.crypto import indexkey, rotate

    loaded_twice(tmp_path)
    rotate.rotate()
    assert rotate.reencrypt()["state"] == "done"
    ok, err = verify()
    assert ok, err
    indexkey.replace()
    ok, err = verify()
    assert ok, err


def test_index_key_replacement_does_not_bless_an_altered_row(tmp_path):
    from custos.crypto import indexkey

    loaded_twice(tmp_path)
    victim = _tamper_name()[0]
    indexkey.replace()
    ok, err = verify()
    assert not ok and f"(id {victim.pk})" in err


def test_the_page_shows_the_last_run_to_it_security_and_auditors(tmp_path, client):
    loaded_twice(tmp_path)
    _tamper_name()
    verify()
    for role in ("it_security", "auditor"):
        client.force_login(make_user(f"u-{role}", role))
        r = client.get("/security/integrity/")
        assert r.status_code == 200
        body = r.content.decode()
        assert 'id="failures"' in body and "book_party" in body
    client.force_login(make_user("agent9", "agent", staff_no="A9"))
    assert client.get("/security/integrity/").status_code == 403


def test_every_customer_column_is_covered():
    for model, spec in [
        (Party, tags.PARTY),
        (Staff, tags.STAFF),
        (Partner, tags.PARTNER),
        (PartyHistory, tags.HISTORY),
    ]:
        columns = {f.column for f in model._meta.concrete_fields}
        not_covered = {"id", "integrity_tag", "first_load_id", "last_load_id", "gone_load_id"}
        assert set(spec.names) == columns - not_covered, model


def test_the_integrity_page_is_in_the_navigation_of_its_roles_only(client, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    for role, shown in (("it_security", True), ("auditor", True), ("agent", False), ("compliance", False)):
        user = make_user(f"nav-{role}", role)
        client.force_login(user)
        page = client.get("/me/access/").content.decode()
        assert ('href="/security/integrity/"' in page) is shown, role
        if shown:  # and the alert a failed run raises has its own label
            assert SecurityAlert.Kind.INTEGRITY.label


@pytest.mark.parametrize(
    "tamper", [_tamper_name, _swap_mobiles, _delete_history, _insert_party], ids=lambda f: f.__name__[1:]
)
def test_verify_in_two_processes_finds_what_one_finds(tmp_path, tamper, monkeypatch):
    from custos.integrity import services

    loaded_twice(tmp_path)
    tampered = {p.pk for p in tamper()}
    one = services.verify()
    monkeypatch.setattr(services, "PARALLEL_FROM", 1)  # every table in two processes (fork)
    two = services.verify()
    assert two.checked == one.checked and two.checked["book_party"] == Party.objects.count()
    assert {f.id for f in two.failures} == {f.id for f in one.failures} >= tampered
    assert two.failure_count == one.failure_count > 0
    assert two.cpu_seconds > 0
