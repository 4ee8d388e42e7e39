"""The one audit path for changes (custos.audit.record): every change of who may see what, of a
party's customer information and of a remediation decision writes a ChangeEvent row and a Merkle-log
entry together, with no value in clear in the log; if the log cannot be written the change fails."""

import datetime as dt
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from custos.access.models import Profile, Role
from custos.api.models import ApiToken
from custos.audit import record as audit_record
from custos.audit import search, service
from custos.audit.models import AuditEntry, ChangeEvent
from custos.crypto import keyring
from tests.conftest import make_user
from tests.test_findings_support import open_finding

pytestmark = pytest.mark.django_db
BASIC = Path(__file__).parent / "books" / "basic"


@pytest.fixture(autouse=True)
def keys(custos_home):
    with keyring.editing() as data:
        keyring.ensure_data_keys(data)


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _block_inserts(table: str) -> None:
    """A real database failure: a trigger that rejects every insert into `table`."""
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute(
                f"CREATE TRIGGER block_{table} BEFORE INSERT ON {table} "
                "BEGIN SELECT RAISE(ABORT, 'audit log unavailable'); END"
            )
        else:
            cur.execute(
                f"CREATE FUNCTION block_{table}() RETURNS trigger AS $$ "
                "BEGIN RAISE EXCEPTION 'audit log unavailable'; END $$ LANGUAGE plpgsql"
            )
            cur.execute(
                f"CREATE TRIGGER block_{table} BEFORE INSERT ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION block_{table}()"
            )


def _raw_rows(table: str) -> str:
    """Every column of every row of `table` as the database holds it, as one text."""
    with connection.cursor() as cur:
        cur.execute(f"SELECT * FROM {table}")
        return "\n".join(
            " ".join(bytes(v).hex() if isinstance(v, bytes | memoryview) else str(v) for v in row)
            for row in cur.fetchall()
        )


def entries(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("seq"))


def event_of(entry: AuditEntry) -> ChangeEvent:
    return ChangeEvent.objects.get(seq=entry.seq)


# --- record() itself ----------------------------------------------------------------------------------


def test_record_writes_the_event_row_and_the_log_entry_together():
    admin = make_user("it", Role.IT_SECURITY, staff_no="IT1")
    target = make_user("li", Role.AGENT, staff_no="A1")
    profile = Profile.objects.get(user=target)
    before = audit_record.snapshot(profile)
    profile.role, profile.channel = Role.CHANNEL_MANAGER, "agency"
    after = audit_record.snapshot(profile)
    assert audit_record.diff(before, after) == ["channel", "role"]
    with transaction.atomic():
        ev = audit_record.record(admin, "profile.changed", profile, before, after, "调岗", client="10.0.0.5")
    entry = AuditEntry.objects.get(seq=ev.seq)
    assert (entry.username, entry.staff_no, entry.action, entry.model, entry.client) == (
        "it",
        "IT1",
        "profile.changed",
        "profile",
        "10.0.0.5",
    )
    assert entry.record_id_list == [profile.pk] and entry.field_list == ["channel", "role"]
    assert entry.purpose == "hmac:" + ev.digest  # the reason is sealed in the event row, not here
    ev.refresh_from_db()
    assert (ev.before["role"], ev.after["role"], ev.reason) == ("agent", "channel_manager", "调岗")
    assert ev.at == entry.at and ev.actor == admin and ev.object_id == str(profile.pk)
    assert audit_record.verify_changes() == []
    assert service.verify().ok


def test_when_the_log_cannot_be_written_the_change_fails_with_nothing_written():
    target = make_user("li", Role.AGENT, staff_no="A1")
    n_entries, n_events = AuditEntry.objects.count(), ChangeEvent.objects.count()
    _block_inserts(AuditEntry._meta.db_table)
    profile = Profile.objects.get(user=target)
    with pytest.raises(audit_record.AuditWriteError):
        with transaction.atomic():  # as the admin, the commands and the services save
            profile.role = Role.COMPLIANCE
            profile.save()
    assert Profile.objects.get(user=target).role == Role.AGENT  # the change rolled back
    assert (AuditEntry.objects.count(), ChangeEvent.objects.count()) == (n_entries, n_events)


def test_an_event_row_that_cannot_be_written_takes_its_log_entry_with_it():
    target = make_user("li", Role.AGENT, staff_no="A1")
    n_entries = AuditEntry.objects.count()
    _block_inserts(ChangeEvent._meta.db_table)
    with pytest.raises(audit_record.AuditWriteError):
        with transaction.atomic():
            audit_record.record(
                None, "profile.changed", Profile.objects.get(user=target), {"role": "a"}, {"role": "b"}
            )
    assert AuditEntry.objects.count() == n_entries  # no entry without its event row


def test_values_are_sealed_in_the_event_and_only_hashed_in_the_log(small_book):
    from custos.book.models import Party

    party = Party.objects.filter(policy_no="P1", role="applicant").get()
    secret_value = "13987654321"
    with transaction.atomic():
        ev = audit_record.record(
            None,
            "party.corrected",
            party,
            {"mobile": party.mobile},
            {"mobile": secret_value},
            "客户来电 13987654321",
        )
    assert ChangeEvent.objects.get(pk=ev.pk).after == {"mobile": secret_value}  # it is there, sealed
    for table in (AuditEntry._meta.db_table, ChangeEvent._meta.db_table):
        raw = _raw_rows(table)
        assert secret_value not in raw and party.mobile not in raw
        assert "客户来电" not in raw
    assert AuditEntry.objects.get(seq=ev.seq).field_list == ["mobile"]


def test_verify_finds_an_event_row_edited_swapped_or_deleted_behind_custos():
    a = make_user("a", Role.AGENT, staff_no="A1")
    b = make_user("b", Role.AGENT, staff_no="A2")
    for user, branch in ((a, "GZ"), (b, "BJ")):
        with transaction.atomic():
            p = Profile.objects.get(user=user)
            p.branch_code = branch
            p.save()
    assert audit_record.verify_changes() == []
    ea, eb = (event_of(entries("profile.changed")[i]) for i in (0, 1))
    # swap the sealed "after" values of the two events (both open: same column, same key)
    table = ChangeEvent._meta.db_table
    with connection.cursor() as cur:
        cur.execute(f"SELECT id, after FROM {table} WHERE id IN (%s, %s)", [ea.pk, eb.pk])
        sealed = dict(cur.fetchall())
        assert sealed[ea.pk].startswith("e1:")
        cur.execute(f"UPDATE {table} SET after = %s WHERE id = %s", [sealed[eb.pk], ea.pk])
        cur.execute(f"UPDATE {table} SET after = %s WHERE id = %s", [sealed[ea.pk], eb.pk])
    problems = audit_record.verify_changes()
    assert len(problems) == 2 and all("does not match its log entry" in p for p in problems)
    ChangeEvent.objects.filter(pk=ea.pk).delete()
    assert any(
        f"log entry {ea.seq} records a change whose event row is missing" in p
        for p in audit_record.verify_changes()
    )
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="FAILED"):
        call_command("audit", "verify")


# --- who may see what -----------------------------------------------------------------------------------


def test_a_profile_role_change_in_the_admin_is_recorded_with_its_admin(client):
    admin = make_user("root", None)
    admin.is_staff = admin.is_superuser = True
    admin.save()
    target = make_user("li", Role.AGENT, staff_no="A1")
    profile = Profile.objects.get(user=target)
    client.force_login(admin)
    r = client.post(
        f"/admin/access/profile/{profile.pk}/change/",
        {
            "user": target.pk,
            "role": Role.COMPLIANCE,
            "staff_no": "A1",
            "branch_code": "GD",
            "channel": "",
            "partner_code": "",
        },
        REMOTE_ADDR="10.9.8.7",
    )
    assert r.status_code == 302, r.content[:500]
    [entry] = entries("profile.changed")
    assert (entry.username, entry.client, entry.record_id_list) == ("root", "10.9.8.7", [profile.pk])
    assert entry.field_list == ["branch_code", "role"]
    ev = event_of(entry)
    assert (ev.before["role"], ev.after["role"], ev.after["branch_code"]) == ("agent", "compliance", "GD")
    # the audit search finds it by action and by record
    assert list(search.search({"action": "profile.changed"})) == [entry]
    assert entry in search.search({"record": str(profile.pk), "model": "profile"})


def test_user_create_edit_and_deactivation_are_recorded(small_book):
    call_command(
        "createuser", "wang", "--role", "agent", "--staff-no", "A3", "--password", "correct-horse-42"
    )
    [created] = entries("user.created")
    assert created.username == "system" and created.client.startswith("cli")
    assert "password" in created.field_list and "correct-horse" not in _raw_rows(ChangeEvent._meta.db_table)
    assert entries("profile.created")[0].field_list == [
        "branch_code",
        "channel",
        "partner_code",
        "role",
        "staff_no",
        "user_id",
    ]
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username="wang")
    with transaction.atomic():  # an edit outside the admin (the shell): still recorded, actor "system"
        user.is_staff = True
        user.save()
    assert entries("user.changed")[-1].field_list == ["is_staff"]
    user.last_login = dt.datetime.now(dt.UTC)
    user.save(update_fields=["last_login"])  # bookkeeping only: not a change of who may see what
    assert len(entries("user.changed")) == 1
    from custos.access.services import deactivate_departed_staff

    assert deactivate_departed_staff() == ["wang"]  # A3 left in 2020
    [gone] = entries("user.deactivated")
    assert gone.record_id_list == [user.pk] and gone.field_list == ["is_active"]
    assert event_of(gone).reason == "staff left_on reached"


def test_departed_staff_stay_active_when_their_deactivation_cannot_be_recorded(small_book):
    from django.contrib.auth import get_user_model

    from custos.access.services import deactivate_departed_staff

    user = make_user("wang", Role.AGENT, staff_no="A3")
    _block_inserts(AuditEntry._meta.db_table)
    assert deactivate_departed_staff() == []
    assert get_user_model().objects.get(pk=user.pk).is_active


def test_api_token_creation_and_revocation_are_recorded(capsys):
    make_user("api", Role.COMPLIANCE)
    call_command("token", "create", "api", "--name", "core")
    secret = capsys.readouterr().out.strip()
    token = ApiToken.objects.get()
    [created] = entries("token.created")
    assert created.record_id_list == [token.pk] and created.client.startswith("cli")
    assert secret not in _raw_rows(ChangeEvent._meta.db_table) and token.digest not in _raw_rows(
        ChangeEvent._meta.db_table
    )
    call_command("token", "revoke", token.prefix)
    [revoked] = entries("token.revoked")
    assert revoked.record_id_list == [token.pk] and revoked.field_list == ["revoked"]
    from custos.api.api import TOKEN_USE_RESOLUTION  # noqa: F401  (last_used_at is bookkeeping)

    ApiToken.objects.filter(pk=token.pk).update(revoked=False)
    t = ApiToken.objects.get(pk=token.pk)
    t.last_used_at = dt.datetime.now(dt.UTC)
    t.save()
    assert not entries("token.changed")


def test_api_token_revocation_in_the_admin_is_recorded(client):
    admin = make_user("root", None)
    admin.is_staff = admin.is_superuser = True
    admin.save()
    token, _ = ApiToken.issue(make_user("api", Role.COMPLIANCE), "core")
    client.force_login(admin)
    r = client.post(f"/admin/api/apitoken/{token.pk}/change/", {"revoked": "on"})
    assert r.status_code == 302
    [revoked] = entries("token.revoked")
    assert revoked.username == "root" and revoked.record_id_list == [token.pk]


def test_screening_key_creation_and_revocation_are_recorded(capsys):
    from custos.screening.models import Client

    call_command("screenkey", "create", "bank1", "--partner", "PT000001")
    key = Client.objects.get(name="bank1")
    [created] = entries("screening_key.created")
    assert created.record_id_list == [key.pk] and created.model == "screening_key"
    assert event_of(created).after["partner_codes"] == ["PT000001"]
    call_command("screenkey", "revoke", "bank1")
    [revoked] = entries("screening_key.revoked")
    assert revoked.record_id_list == [key.pk] and revoked.field_list == ["active"]
    assert audit_record.verify_changes() == []


# --- remediation and the book ---------------------------------------------------------------------------


def _task_on_a_false_mobile(load):
    """P1's applicant: a PH03 finding on mobile 13812345678, and its task."""
    from custos.checks.models import CheckRun
    from custos.remediation import services as svc
    from custos.remediation.models import Task

    run = CheckRun.objects.create(load=load, status=CheckRun.Status.RUNNING)
    open_finding(run, "P1", code="PH03", field="mobile", value="13812345678")
    svc.sync_tasks(run)
    return Task.objects.get(policy_no="P1")


def test_a_correction_applied_to_a_party_is_recorded_with_the_review_and_the_transitions(small_book):
    from custos.book.models import Party
    from custos.remediation import services as svc

    task = _task_on_a_false_mobile(small_book)
    agent = make_user("agent1", Role.AGENT, staff_no="A1")
    cs = make_user("cs1", Role.CUSTOMER_SERVICE)
    c = svc.propose_correction(task, agent, "mobile", "13957208146")
    svc.review_correction(c, cs, approve=True, note="材料齐全")
    party = Party.objects.get(policy_no="P1", role="applicant")
    [applied] = entries("party.corrected")
    assert (applied.username, applied.model, applied.record_id_list, applied.field_list) == (
        "cs1",
        "party",
        [party.pk],
        ["mobile"],
    )
    ev = event_of(applied)
    assert (ev.before, ev.after) == ({"mobile": "13812345678"}, {"mobile": "13957208146"})
    assert [e.field_list for e in entries("correction.approved")] == [["review_note", "status"]]
    moves = [(event_of(e).before["status"], event_of(e).after["status"]) for e in entries("task.transition")]
    assert moves == [("open", "review"), ("review", "corrected")]
    for table in (AuditEntry._meta.db_table, ChangeEvent._meta.db_table):
        assert "13957208146" not in _raw_rows(table)
    svc.verify_task(task, make_user("cs2", Role.CUSTOMER_SERVICE), contact="13957208146", success=True)
    assert entries("correction.verified")[0].record_id_list == [c.pk]
    assert audit_record.verify_changes() == []


def test_a_correction_is_not_applied_when_the_log_cannot_be_written(small_book):
    from custos.book.models import Party
    from custos.remediation import services as svc
    from custos.remediation.models import Correction, Task

    task = _task_on_a_false_mobile(small_book)
    c = svc.propose_correction(task, make_user("agent1", Role.AGENT, staff_no="A1"), "mobile", "13957208146")
    cs = make_user("cs1", Role.CUSTOMER_SERVICE)
    _block_inserts(AuditEntry._meta.db_table)
    with pytest.raises(audit_record.AuditWriteError):
        svc.review_correction(c, cs, approve=True)
    assert Party.objects.get(policy_no="P1", role="applicant").mobile == "13812345678"
    assert (
        Correction.objects.get(pk=c.pk).status == "proposed"
        and Task.objects.get(pk=task.pk).status == "review"
    )


def test_a_book_load_is_one_entry_with_its_hash_and_counts():
    from custos.book.models import BookLoad, Party
    from custos.book.services import load_book

    load = load_book(BASIC)
    assert load.status == "done"
    [entry] = entries("book.loaded")
    assert (entry.model, entry.record_id_list) == ("book_load", [load.pk])
    ev = event_of(entry)
    assert ev.after["sha256"] == load.sha256 and ev.after["change_counts"] == load.change_counts
    assert Party.objects.exists()
    assert BookLoad.objects.filter(status="done").count() == 1


def test_a_book_load_that_cannot_be_recorded_loads_nothing():
    from custos.book.models import Party
    from custos.book.services import load_book

    _block_inserts(AuditEntry._meta.db_table)
    with pytest.raises(audit_record.AuditWriteError):
        load_book(BASIC)
    assert not Party.objects.exists()
