"""The access service: who sees which policies, masking on the way out, a read-log row for each read,
and nothing returned when the read log cannot be written."""

import pytest
from django.db import connection

from custos.access.models import Role
from custos.access.service import AccessContext, ReadLogUnavailable
from custos.audit.models import AuditEntry
from custos.book.models import Party
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def visible(user) -> set[str]:
    return set(AccessContext.for_user(user).policies().values_list("policy_no", flat=True))


@pytest.mark.parametrize(
    ("role", "scope", "expected"),
    [
        (Role.COMPLIANCE, {}, {"P1", "P2", "P3", "P4"}),
        (Role.IT_SECURITY, {}, {"P1", "P2", "P3", "P4"}),
        (Role.AUDITOR, {}, {"P1", "P2", "P3", "P4"}),
        (Role.EXECUTIVE, {}, {"P1", "P2", "P3", "P4"}),
        (Role.COMPLIANCE, {"branch_code": "GD"}, {"P1", "P2", "P4"}),
        (Role.CUSTOMER_SERVICE, {"branch_code": "GD"}, {"P1", "P2", "P4"}),
        (Role.CUSTOMER_SERVICE, {"branch_code": "BJ"}, {"P3"}),
        (Role.CUSTOMER_SERVICE, {"branch_code": "GZ"}, {"P1", "P4"}),
        (Role.OPERATIONS, {"branch_code": "SZ"}, {"P2"}),
        (Role.CHANNEL_MANAGER, {"channel": "bancassurance"}, {"P2", "P4"}),
        (Role.CHANNEL_MANAGER, {"channel": "agency", "branch_code": "GD"}, {"P1"}),
        (Role.CHANNEL_MANAGER, {}, set()),  # a channel manager without a channel sees nothing
        (Role.AGENT, {"staff_no": "A1"}, {"P1", "P4"}),
        (Role.AGENT, {"staff_no": "A2"}, {"P2", "P3"}),
        (Role.AGENT, {"staff_no": "A3"}, set()),  # has left the company
        (Role.AGENT, {}, set()),  # an agent without a staff number
        (Role.PARTNER_STAFF, {"partner_code": "BK1"}, {"P2", "P4"}),
        (Role.PARTNER_STAFF, {}, set()),
        (Role.CUSTOMER_SERVICE, {"branch_code": "NOWHERE"}, set()),
    ],
)
def test_scope(small_book, role, scope, expected):
    user = make_user("u", role, **scope)
    assert visible(user) == expected
    parties = AccessContext.for_user(user).parties()
    assert set(parties.values_list("policy_no", flat=True)) == expected


def test_branch_subtree_without_materialised_path(small_book):
    from custos.book.models import Branch

    Branch.objects.update(path="")
    user = make_user("u", Role.CUSTOMER_SERVICE, branch_code="GD")
    assert visible(user) == {"P1", "P2", "P4"}


def test_user_without_profile_sees_nothing(small_book):
    assert visible(make_user("nobody")) == set()


def test_inactive_user_sees_nothing(small_book):
    user = make_user("gone", Role.COMPLIANCE)
    user.is_active = False
    user.save()
    assert visible(user) == set()


def test_anonymous_sees_nothing(small_book):
    from django.contrib.auth.models import AnonymousUser

    assert set(AccessContext.for_user(AnonymousUser()).policies()) == set()


def test_read_parties_masks_and_logs(small_book):
    user = make_user("cs", Role.CUSTOMER_SERVICE, branch_code="GZ", staff_no="S9")
    ctx = AccessContext.for_user(user, client="10.1.2.3")
    rows = ctx.read_parties(Party.objects.filter(policy_no="P1"), action="lookup")
    assert [r["role"] for r in rows] == ["applicant", "insured"]
    applicant = rows[0]
    assert applicant["name"] == "张*伟"
    assert applicant["id_no"] == "4401**********1234"
    assert applicant["mobile"] == "138****5678"
    assert applicant["phone"] == "020-****5678"
    assert applicant["address"] == "广东省广州市天河区****"
    assert applicant["email"] == "z***@example.com"
    assert rows[1]["name"] == "李*"

    log = AuditEntry.objects.get(model="party")  # (creating the user is an entry of its own)
    assert (log.username, log.staff_no, log.action, log.model, log.client, log.outcome) == (
        "cs",
        "S9",
        "lookup",
        "party",
        "10.1.2.3",
        "ok",
    )
    assert sorted(log.record_id_list) == sorted(
        Party.objects.filter(policy_no="P1").values_list("pk", flat=True)
    )
    assert "id_no" in log.fields


def test_read_outside_scope_returns_nothing_but_is_logged(small_book):
    user = make_user("agent", Role.AGENT, staff_no="A1")
    rows = AccessContext.for_user(user).read_parties(Party.objects.filter(policy_no="P3"), action="lookup")
    assert rows == []
    log = AuditEntry.objects.get(model="party")  # (creating the user is an entry of its own)
    assert log.outcome == "empty" and log.record_id_list == []


def _block_read_log_inserts():
    """A real database failure: a trigger that rejects every insert into the audit log (AuditEntry)."""
    table = AuditEntry._meta.db_table
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute(
                f"CREATE TRIGGER block_readlog BEFORE INSERT ON {table} "
                "BEGIN SELECT RAISE(ABORT, 'read log unavailable'); END"
            )
        else:
            cur.execute(
                "CREATE FUNCTION block_readlog() RETURNS trigger AS $$ "
                "BEGIN RAISE EXCEPTION 'read log unavailable'; END $$ LANGUAGE plpgsql"
            )
            cur.execute(
                f"CREATE TRIGGER block_readlog BEFORE INSERT ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION block_readlog()"
            )


def test_fail_closed_when_read_log_cannot_be_written(small_book):
    user = make_user("cs", Role.COMPLIANCE)
    ctx = AccessContext.for_user(user)
    _block_read_log_inserts()
    result = None
    with pytest.raises(ReadLogUnavailable):
        result = ctx.read_parties(Party.objects.filter(policy_no="P1"), action="lookup")
    assert result is None
    # The caller's transaction is still usable (the failed insert was inside a savepoint).
    assert Party.objects.filter(policy_no="P1").count() == 2
    assert not AuditEntry.objects.filter(model="party").exists()
