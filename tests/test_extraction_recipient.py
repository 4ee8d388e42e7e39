"""Whose customers an extraction may hold: the requester's scope ∩ the recipient's (issue 16 item 8) —
counted at request, evaluated again when the file is built — and one answer for a recipient who does
not exist or may not receive (item 11: the request form is no way to learn which usernames exist)."""

import datetime as dt
import json
import re

import pytest
from django.utils import timezone

from custos.access.models import Profile
from custos.api.models import ApiToken
from custos.audit.models import AuditEntry
from custos.book.models import BookLoad, Partner, Party, Policy, Staff
from custos.extraction import services as svc
from custos.extraction.models import Canary, Extraction
from tests.conftest import build_small_book, make_user
from tests.test_extraction import WHY, fast_passwords, keys, rows_of  # noqa: F401 - fixtures

S = Extraction.State
pytestmark = pytest.mark.django_db
FIELDS = ["name", "id_no", "mobile"]


@pytest.fixture(autouse=True)
def no_otp(settings):
    settings.CUSTOS_OTP_REQUIRED = False


@pytest.fixture
def bank(db):
    """The small book's bank outlet BK1 (P2 in SZ, P4 in GZ, both bancassurance) and a second outlet
    BK2 with three bancassurance policies in SZ; both with a valid agreement. A bancassurance channel
    manager, one clerk of each outlet, an executive."""
    build_small_book()
    load = BookLoad.objects.first()
    until = timezone.localdate() + dt.timedelta(days=365)
    Partner.objects.filter(partner_code="BK1").update(contract_until=until)
    Partner.objects.create(
        partner_code="BK2",
        name="另一银行福田支行",
        kind="bank",
        branch_code="SZ",
        status="active",
        contract_until=until,
        first_load=load,
        last_load=load,
    )
    for i in range(3):
        no = f"PB{i}"
        Policy.objects.create(
            policy_no=no,
            channel="bancassurance",
            branch_code="SZ",
            agent_no="A2",
            partner_code="BK2",
            status="in_force",
            first_load=load,
            last_load=load,
        )
        for j, role in enumerate(("applicant", "insured")):
            Party.objects.create(
                policy_no=no,
                role=role,
                seq=1,
                name=f"王{i}{j}",
                gender="F",
                id_type="resident_id",
                id_no=f"44030419850101{i}{j}00",
                mobile=f"1390000{i}{j}00",
                first_load=load,
                last_load=load,
            )
    return {
        "manager": make_user("banc-manager", "channel_manager", channel="bancassurance", staff_no="M1"),
        "clerk": make_user("clerk1", "partner_staff", partner_code="BK1", staff_no="B1"),
        "clerk2": make_user("clerk2", "partner_staff", partner_code="BK2", staff_no="B2"),
        "exec": make_user("boss", "executive", staff_no="E1"),
    }


def request(people, recipient="clerk", **kw):
    return svc.request_extraction(
        people["manager"],
        purpose="银保客户回访",
        scope=kw.pop("scope", {"channel": "bancassurance"}),
        fields=FIELDS,
        justification=WHY,
        recipient_user=people[recipient],
        file_format="csv",
        **kw,
    )


def bancassurance_parties() -> int:
    return Party.objects.filter(
        policy_no__in=Policy.objects.filter(channel="bancassurance").values("policy_no")
    ).count()


def test_a_partner_clerk_receives_only_their_outlets_customers(bank):
    """A bancassurance manager asks for the whole channel for a BK1 clerk: the request says how far the
    clerk's scope narrows it, and the file holds BK1's customers only."""
    ext = request(bank)
    svc.approve(ext, bank["exec"], "同意", enqueue=False)
    ext = svc.generate(ext.pk)
    assert ext.state == S.GENERATED and ext.row_count == 4
    name, data = svc.download(ext, bank["clerk"])
    fake = set(Canary.objects.filter(extraction=ext).values_list("policy_no", flat=True))
    real = {r[0] for r in rows_of(name, data)[1:] if r[0] not in fake}
    assert real == {"P2", "P4"}
    read = AuditEntry.objects.get(action="extract")
    assert len(json.loads(read.record_ids)) == 4  # the logged read is the narrowed one
    assert ext.scope_rows == bancassurance_parties() == 10
    assert ext.recipient_rows == 4  # P2 and P4, two parties each
    assert "4" in svc.narrowing_note(ext) and "10" in svc.narrowing_note(ext)


def test_the_page_and_the_api_tell_the_requester_the_file_is_narrowed(client, bank):
    client.force_login(bank["manager"])
    form = {
        "purpose": "银保客户回访",
        "channel": "bancassurance",
        "fields": FIELDS,
        "justification": WHY,
        "recipient_username": "clerk1",
        "file_format": "csv",
    }
    page = client.post("/extractions/new/", form, follow=True).content.decode()
    assert "只能看到其中 4 名" in page
    token = ApiToken.issue(bank["manager"], "t")[1]
    body = {
        "purpose": "银保客户回访",
        "scope": {"channel": "bancassurance"},
        "fields": FIELDS,
        "justification": WHY,
        "recipient_username": "clerk1",
        "file_format": "csv",
    }
    r = client.post(
        "/api/v1/extractions",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert r.status_code == 201 and (r.json()["scope_rows"], r.json()["recipient_rows"]) == (10, 4)


def _leave(people):
    Staff.objects.create(
        staff_no="B1",
        name="柜员",
        branch_code="GZ",
        channel="bancassurance",
        position="clerk",
        left_on=timezone.localdate(),
        first_load=BookLoad.objects.first(),
        last_load=BookLoad.objects.first(),
    )


def _deactivate(people):
    people["clerk"].is_active = False
    people["clerk"].save()


def _lose_scope(people):
    Profile.objects.filter(user=people["clerk"]).update(branch_code="BJ")  # BK1 sells nothing in BJ


@pytest.mark.parametrize(
    "change", [_leave, _deactivate, _lose_scope], ids=["left", "deactivated", "lost-scope"]
)
def test_a_recipient_who_lost_their_scope_before_generation_gets_nothing(bank, change):
    ext = request(bank)
    svc.approve(ext, bank["exec"], "同意", enqueue=False)
    change(bank)
    with pytest.raises(svc.ExtractionError, match="接收人"):
        svc.generate(ext.pk)
    ext.refresh_from_db()
    assert ext.state == S.FAILED and ext.file_path == "" and ext.row_count == 0
    assert "接收人" in ext.error
    assert not Canary.objects.filter(extraction=ext).exists()
    assert not any(
        json.loads(e.record_ids) for e in AuditEntry.objects.filter(action="extract")
    )  # nothing read


def test_an_external_recipient_at_a_partner_gets_only_that_partners_customers(bank):
    ext = svc.request_extraction(
        bank["manager"],
        purpose="银保客户回访",
        scope={"channel": "bancassurance"},
        fields=FIELDS,
        justification=WHY,
        recipient_name="李行长",
        recipient_org="另一银行",
        recipient_partner_code="BK2",
    )
    assert (ext.scope_rows, ext.recipient_rows) == (10, 6)
    svc.approve(ext, bank["exec"], enqueue=False)
    assert svc.generate(ext.pk).row_count == 6


# --- one answer for a recipient who does not exist or may not receive --------------------------------------


def refused_recipients(bank) -> dict[str, str]:
    """username -> why they may not receive a request over GZ bancassurance (only P4, a BK1 policy)."""
    make_user("gone", "customer_service", staff_no="G1")
    _leave_staff("G1")
    off = make_user("off", "customer_service")
    off.is_active = False
    off.save()
    make_user("noprofile")
    Partner.objects.create(
        partner_code="BK3",
        name="过期银行",
        kind="bank",
        branch_code="GZ",
        status="active",
        contract_until=timezone.localdate() - dt.timedelta(days=1),
        first_load=BookLoad.objects.first(),
        last_load=BookLoad.objects.first(),
    )
    make_user("clerk3", "partner_staff", partner_code="BK3")
    return {
        "no-such-user-x": "does not exist",
        "gone": "left the company",
        "off": "deactivated",
        "noprofile": "no custos profile",
        "clerk3": "partner without a valid agreement",
        "clerk2": "BK2 sells nothing in GZ: none of these customers in their scope",
    }


def _leave_staff(staff_no):
    load = BookLoad.objects.first()
    Staff.objects.create(
        staff_no=staff_no,
        name="离职员工",
        branch_code="GZ",
        channel="agency",
        position="clerk",
        left_on=timezone.localdate() - dt.timedelta(days=1),
        first_load=load,
        last_load=load,
    )


def test_the_api_answers_alike_for_an_unknown_recipient_and_one_who_may_not_receive(client, bank):
    names = refused_recipients(bank)
    token = ApiToken.issue(bank["manager"], "t")[1]

    def post(username, scope):
        body = {
            "purpose": "银保客户回访",
            "scope": scope,
            "fields": FIELDS,
            "justification": WHY,
            "recipient_username": username,
            "file_format": "csv",
        }
        return client.post(
            "/api/v1/extractions",
            json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )

    answers = {}
    for name, why in names.items():
        r = post(name, {"branch": "GZ", "channel": "bancassurance"})
        assert r.status_code == 400, f"{name} ({why}): {r.status_code}"
        answers[name] = r.json()["detail"].replace(name, "<name>")
    assert len(set(answers.values())) == 1, answers
    assert next(iter(answers.values())).startswith("recipient_username")
    # with nothing in the requester's own scope, the answer does not depend on the recipient either
    empty = {post(n, {"branch": "BJ"}).json()["detail"] for n in [*names, "clerk1"]}
    assert len(empty) == 1 and "您的权限范围内没有符合条件的客户" in empty.pop()
    assert post("clerk1", {"branch": "GZ", "channel": "bancassurance"}).status_code == 201
    assert not Extraction.objects.exclude(recipient_user__username="clerk1").exists()


def test_the_request_page_answers_alike_too(client, bank):
    names = refused_recipients(bank)
    client.force_login(bank["manager"])
    answers = set()
    for name in names:
        form = {
            "purpose": "银保客户回访",
            "branch": "GZ",
            "channel": "bancassurance",
            "fields": FIELDS,
            "justification": WHY,
            "recipient_username": name,
            "file_format": "csv",
        }
        page = client.post("/extractions/new/", form).content.decode()
        errors = re.findall(r'id="error-recipient_username" role="alert">([^<]*)</div>', page)
        assert errors, f"{name}: no error on the recipient field"
        answers.add(errors[0].replace(name, "<name>"))
    assert len(answers) == 1, answers
    assert not Extraction.objects.exists()
