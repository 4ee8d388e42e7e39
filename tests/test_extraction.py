"""Extractions: request → executive approval (four eyes) → fingerprinted, encrypted file → one logged
download → expiry; canaries never real; every cell neutralised; a leaked copy names its recipient."""

import csv
import datetime as dt
import io
import random

import openpyxl
import pytest
from django.db import transaction
from django.utils import timezone

from custos.audit.models import AuditEntry
from custos.book.models import BookLoad, Partner, Party, Policy
from custos.crypto import keyring
from custos.crypto.fields import Keys
from custos.domain import canary as cn
from custos.domain import ids, phones
from custos.domain.spreadsheet import neutralise
from custos.extraction import canaries, leaks
from custos.extraction import services as svc
from custos.extraction.models import Canary, Extraction, ExtractionEvent
from tests.conftest import build_small_book, make_user

S = Extraction.State
pytestmark = pytest.mark.django_db
FIELDS = ["name", "gender", "birth_date", "id_no", "mobile", "address"]
WHY = "季度回访名单，需要联系客户核实信息"


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # argon2 is slow on purpose


@pytest.fixture(autouse=True)
def keys(custos_home):
    with keyring.editing() as data:
        keyring.ensure_data_keys(data)
    return Keys.from_keyring()


def add_policies(
    n: int, seed: int = 7, branch: str = "GZ", channel: str = "agency", prefix: str = "PX"
) -> None:
    """n more policies with an applicant and an insured each, distinct real-looking people."""
    load = BookLoad.objects.first()
    rng = random.Random(seed)
    for i in range(n):
        no = f"{prefix}{i:06d}"
        Policy.objects.create(
            policy_no=no,
            channel=channel,
            branch_code=branch,
            agent_no="A1",
            status="in_force",
            issued_on=dt.date(2020, 1, 1) + dt.timedelta(days=i),
            first_load=load,
            last_load=load,
        )
        for role in ("applicant", "insured"):
            p = canaries.make_canary(rng)
            Party.objects.create(
                policy_no=no,
                role=role,
                seq=1,
                name=p.name,
                gender=p.gender,
                birth_date=p.birth_date,
                id_type="resident_id",
                id_no=p.id_no,
                mobile=p.mobile,
                address=p.address,
                first_load=load,
                last_load=load,
            )


@pytest.fixture
def book(db):
    build_small_book()
    add_policies(40)


@pytest.fixture
def people(db):
    return {
        "cs": make_user("cs", "customer_service", staff_no="S100"),
        "cs2": make_user("cs2", "customer_service", staff_no="S101"),
        "exec": make_user("boss", "executive", staff_no="E1"),
        "exec2": make_user("boss2", "executive", staff_no="E2"),
        "comp": make_user("comp", "compliance", staff_no="C1"),
        "agent": make_user("agent1", "agent", staff_no="A1"),
    }


def new(people, requester="cs", recipient="cs2", fields=FIELDS, fmt="csv", **kw):
    return svc.request_extraction(
        people[requester],
        purpose=kw.pop("purpose", "回访核实"),
        scope=kw.pop("scope", {"branch": "GZ"}),
        fields=fields,
        justification=kw.pop("justification", WHY),
        recipient_user=people[recipient] if recipient else None,
        file_format=fmt,
        **kw,
    )


def generated(people, **kw) -> Extraction:
    ext = new(people, **kw)
    svc.approve(ext, people["exec"], "同意", enqueue=False)
    return svc.generate(ext.pk)


def rows_of(name: str, data: bytes) -> list[list[str]]:
    if name.endswith(".csv"):
        return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    return [["" if v is None else str(v) for v in r] for r in wb.active.iter_rows(values_only=True)]


# --- the life of an extraction ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_request_approve_generate_download_expire(book, people, fmt):
    ext = generated(people, fmt=fmt)
    assert ext.state == S.GENERATED
    in_scope = Party.objects.filter(policy_no__in=Policy.objects.filter(branch_code="GZ").values("policy_no"))
    assert ext.row_count == in_scope.count() == 84
    assert ext.canary_count == Canary.objects.filter(extraction=ext).count() == 3
    name, data = svc.download(ext, people["cs2"], client="10.0.0.9")
    rows = rows_of(name, data)
    assert len(rows) == 1 + 84 + 3
    assert rows[0][:4] == ["保单号", "角色", "序号", "姓名"]
    real_ids = set(in_scope.values_list("id_no", flat=True))
    file_ids = {r[6] for r in rows[1:]}
    assert real_ids < file_ids and len(file_ids - real_ids) == 3  # unmasked, plus three canaries
    assert ext.state == S.DOWNLOADED and ext.file_path == ""
    history = list(
        ExtractionEvent.objects.filter(extraction=ext).values_list("from_state", "to_state", "actor_name")
    )
    assert history == [
        ("", "requested", "cs"),
        ("requested", "approved", "boss"),
        ("approved", "generated", "system"),
        ("generated", "downloaded", "cs2"),
    ]
    actions = list(AuditEntry.objects.order_by("seq").values_list("action", "username"))
    assert ("extract", "cs") in actions  # the read itself, in the requester's name and scope
    assert ("extraction.downloaded", "cs2") in actions
    assert [a for a, _u in actions if a.startswith("extraction.")] == [
        "extraction.requested",
        "extraction.approved",
        "extraction.generated",
        "extraction.downloaded",
    ]
    assert svc.expire(timezone.now() + dt.timedelta(days=8)) == 1
    ext.refresh_from_db()
    assert ext.state == S.EXPIRED


def test_rows_come_from_the_requesters_own_scope(book, people):
    ext = generated(people, requester="agent", recipient="cs2", scope={})
    agents = Party.objects.filter(policy_no__in=Policy.objects.filter(agent_no="A1").values("policy_no"))
    assert ext.row_count == agents.count()
    ext2 = new(people, scope={"branch": "SZ"}, requester="cs")
    assert ext2.state == S.REQUESTED  # P2 is in SZ
    with pytest.raises(svc.ExtractionError, match="没有符合条件"):
        new(people, requester="agent", scope={"branch": "BJ", "channel": "bancassurance"})


# --- refusals --------------------------------------------------------------------------------------------


def test_requester_can_never_approve_their_own_request(book, people):
    ext = new(people, requester="exec", recipient="cs2")
    with pytest.raises(svc.NotAllowed, match="双人原则"):
        svc.approve(ext, people["exec"], enqueue=False)
    with pytest.raises(svc.NotAllowed, match="双人原则"):
        svc.reject(ext, people["exec"])
    ext.refresh_from_db()
    assert ext.state == S.REQUESTED
    svc.approve(ext, people["exec2"], enqueue=False)
    assert ext.state == S.APPROVED and ext.approver == people["exec2"]


def test_recipient_cannot_approve_what_they_receive(book, people):
    ext = new(people, requester="cs", recipient="exec")
    with pytest.raises(svc.NotAllowed):
        svc.approve(ext, people["exec"], enqueue=False)


@pytest.mark.parametrize("who", ["cs2", "comp", "agent"])
def test_only_the_executive_role_approves(book, people, who):
    ext = new(people)
    with pytest.raises(svc.NotAllowed, match="总经理室"):
        svc.approve(ext, people[who], enqueue=False)
    assert not ExtractionEvent.objects.filter(extraction=ext, to_state="approved").exists()


def test_illegal_transitions_are_refused_with_the_state_named(book, people):
    ext = new(people)
    svc.reject(ext, people["exec"], "范围过大")
    with pytest.raises(svc.IllegalTransition, match="已驳回"):
        svc.approve(ext, people["exec2"], enqueue=False)
    with pytest.raises(svc.IllegalTransition):
        svc.generate(ext.pk)
    with pytest.raises(svc.IllegalTransition):
        svc.download(ext, people["cs2"])


def test_download_once_only_and_only_by_the_recipient(book, people):
    ext = generated(people)
    for other in ("cs", "exec", "comp"):
        with pytest.raises(svc.NotAllowed):
            svc.download(ext, people[other])
    svc.download(ext, people["cs2"])
    with pytest.raises(svc.Gone, match="已下载"):
        svc.download(ext, people["cs2"])
    assert AuditEntry.objects.filter(action="extraction.downloaded").count() == 1


def test_external_recipient_file_is_downloaded_by_the_requester(book, people):
    ext = new(people, recipient=None, recipient_name="王律师", recipient_org="某律师事务所")
    svc.approve(ext, people["exec"], enqueue=False)
    svc.generate(ext.pk)
    with pytest.raises(svc.NotAllowed):
        svc.download(ext, people["cs2"])
    name, _data = svc.download(ext, people["cs"])
    assert name == f"custos-extraction-{ext.pk}.csv"


def test_no_download_after_expiry(book, people):
    ext = generated(people)
    path = ext.file_path
    Extraction.objects.filter(pk=ext.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    with pytest.raises(svc.Gone, match="过期"):
        svc.download(ext, people["cs2"])
    ext.refresh_from_db()
    assert ext.state == S.EXPIRED
    import os

    assert not os.path.exists(path)
    with pytest.raises(svc.Gone):
        svc.download(ext, people["cs2"])


def test_expire_command_deletes_files(book, people, capsys):
    from django.core.management import call_command

    ext = generated(people)
    import os

    assert os.path.exists(ext.file_path)
    Extraction.objects.filter(pk=ext.pk).update(expires_at=timezone.now() - dt.timedelta(days=1))
    call_command("extract", "expire")
    assert "1" in capsys.readouterr().out
    ext.refresh_from_db()
    assert ext.state == S.EXPIRED and not os.path.exists(
        ext.__class__.objects.get(pk=ext.pk).file_path or "/nonexistent"
    )


def test_partner_without_a_valid_agreement_gets_no_extraction(book, people):
    bank = Partner.objects.get(partner_code="BK1")
    staff = make_user("bankclerk", "partner_staff", partner_code="BK1")
    people["bank"] = staff
    # No contract date: no agreement on record.
    with pytest.raises(svc.NotAllowed, match="保密协议"):
        new(people, requester="bank", scope={})
    # Expired contract.
    bank.contract_until = timezone.localdate() - dt.timedelta(days=1)
    bank.save()
    with pytest.raises(svc.NotAllowed, match="保密协议"):
        new(people, requester="bank", scope={})
    # External recipient at a partner outlet without agreement.
    with pytest.raises(svc.NotAllowed, match="BK1"):
        new(
            people,
            recipient=None,
            recipient_name="李行长",
            recipient_org="某银行",
            recipient_partner_code="BK1",
        )
    # Valid, then suspended before approval: refused at approval.
    bank.contract_until = timezone.localdate() + dt.timedelta(days=30)
    bank.save()
    ext = new(people, requester="bank", scope={})
    Partner.objects.filter(partner_code="BK1").update(status="suspended")
    with pytest.raises(svc.NotAllowed, match="保密协议"):
        svc.approve(ext, people["exec"], enqueue=False)


def test_sensitive_fields_need_a_justification(book, people):
    with pytest.raises(svc.ExtractionError, match="理由"):
        new(people, fields=["name", "mobile"], justification="")
    ext = new(people, fields=["name", "gender"], justification="")
    assert ext.fields == ["name", "gender"]
    with pytest.raises(svc.ExtractionError, match="不能提取"):
        new(people, fields=["name", "commission"])


def test_auditors_cannot_request(book, people):
    people["aud"] = make_user("aud", "auditor")
    with pytest.raises(svc.NotAllowed):
        new(people, requester="aud")


# --- canaries, fingerprint, neutralisation, encryption -----------------------------------------------------


def test_canaries_are_unique_valid_and_never_real(book, people, keys):
    a = generated(people)
    b = generated(people, recipient="comp")
    canaries = list(Canary.objects.all())
    assert len(canaries) == 6
    id_nos = [keys.open_(c.id_no_enc, "canary.id_no") for c in canaries]
    mobiles = [keys.open_(c.mobile_enc, "canary.mobile") for c in canaries]
    assert len(set(id_nos)) == len(set(mobiles)) == 6
    for n, m in zip(id_nos, mobiles, strict=True):
        assert ids.parse(n).check_ok and phones.mobile_valid(m) and not ids.is_placeholder(n)
    assert not Party.objects.filter(id_no_bidx__in=[keys.blind_index(n, "id_no") for n in id_nos]).exists()
    assert not Party.objects.filter(mobile_bidx__in=[keys.blind_index(m, "mobile") for m in mobiles]).exists()
    assert {c.extraction_id for c in canaries} == {a.pk, b.pk}
    assert not Policy.objects.filter(policy_no__in=[c.policy_no for c in canaries]).exists()


def test_a_canary_that_collides_with_a_real_party_is_discarded(book, people, monkeypatch):
    real = Party.objects.filter(policy_no="PX000000", role="applicant").get()
    original = canaries.make_canary
    calls = {"n": 0}

    def colliding(rng, near=None):
        calls["n"] += 1
        person = original(rng, near)
        if calls["n"] == 1:
            return cn.CanaryPerson(**{**person.__dict__, "id_no": real.id_no})
        return person

    monkeypatch.setattr(canaries, "make_canary", colliding)
    ext = generated(people)
    assert calls["n"] == 4  # one discarded, three kept
    keys = Keys.from_keyring()
    assert real.id_no not in {keys.open_(c.id_no_enc, "canary.id_no") for c in ext.canaries.all()}


def test_two_recipients_get_different_orders_and_canaries(book, people):
    a, b = generated(people), generated(people, recipient="comp")
    ra = rows_of(*svc.download(a, people["cs2"]))[1:]
    rb = rows_of(*svc.download(b, people["comp"]))[1:]
    real_a = [r[0] + r[1] for r in ra if r[0].startswith(("P", "PX"))]
    assert {r[6] for r in ra} != {r[6] for r in rb}  # different canaries
    assert [r[6] for r in ra if r[6] in {x[6] for x in rb}] != [
        r[6] for r in rb if r[6] in {x[6] for x in ra}
    ]
    assert len(real_a) >= 84


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_formula_injection_is_neutralised_in_every_cell(book, people, fmt):
    evil = {'=HYPERLINK("http://x")': "name", "+1-2": "address", "-3+4": "mobile", "@SUM(A1)": "id_no"}
    for i, (value, f) in enumerate(evil.items()):
        Party.objects.filter(policy_no=f"PX00000{i}", role="applicant").update(**{f: value})
    Party.objects.filter(policy_no="PX000005", role="applicant").update(name="\tTAB", address="\rCR")
    ext = generated(people, fmt=fmt)
    rows = rows_of(*svc.download(ext, people["cs2"]))
    cells = [c for r in rows for c in r]
    for bad in ("=", "+", "-", "@", "\t", "\r"):
        assert not any(c.startswith(bad) for c in cells), bad
    for value in [*evil, "\tTAB", "\rCR"]:
        # (XLSX stores a carriage return as _x000D_, which openpyxl hands back as is)
        assert any(c.rstrip(" ").replace("_x000D_", "\r") == "'" + value for c in cells), value


@pytest.mark.parametrize(
    "cell, expected",
    [
        ("=1+1", "'=1+1"),
        ("+86", "'+86"),
        ("-5", "'-5"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("张三", "张三"),
        ("a=b", "a=b"),
        (None, ""),
        (12, "12"),
        ("", ""),
    ],
)
def test_neutralise(cell, expected):
    assert neutralise(cell) == expected


def test_the_stored_file_is_encrypted(book, people, keys):
    from pathlib import Path

    ext = generated(people, fmt="csv")
    blob = Path(ext.file_path).read_bytes()
    assert blob.startswith(svc.FILE_MAGIC)
    assert oct(Path(ext.file_path).stat().st_mode & 0o777) == "0o600"
    secrets_ = list(Party.objects.values_list("id_no", flat=True)) + list(
        Party.objects.values_list("mobile", flat=True)
    )
    secrets_ += [keys.open_(c.id_no_enc, "canary.id_no") for c in ext.canaries.all()]
    for value in secrets_:
        assert value.encode() not in blob
    assert "保单号".encode() not in blob
    data = svc.open_file(keys, ext, blob)
    assert any(v.encode() in data for v in secrets_)


# --- leak tracing -------------------------------------------------------------------------------------------


def leak(
    rows: list[list[str]],
    fraction: float,
    shuffle: bool,
    seed: int,
    keep_canaries: bool,
    canary_ids: set[str],
):
    body = rows[1:]
    rng = random.Random(seed)
    real = [r for r in body if r[6] not in canary_ids]
    start = rng.randrange(len(real) - int(len(real) * fraction))
    subset = real[start : start + int(len(real) * fraction)]
    if keep_canaries:
        subset = subset + [r for r in body if r[6] in canary_ids][:1]
    if shuffle:
        rng.shuffle(subset)
    return [rows[0], *subset]


def write_csv(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


@pytest.fixture
def two_extractions(book, people, keys):
    a = generated(people, scope={"branch": "GZ"})
    b = generated(people, recipient="comp", scope={})  # whole book: a superset of a's rows
    ra = rows_of(*svc.download(a, people["cs2"]))
    rb = rows_of(*svc.download(b, people["comp"]))
    canary_ids = {keys.open_(c.id_no_enc, "canary.id_no") for c in Canary.objects.all()}
    return a, b, ra, rb, canary_ids


@pytest.mark.parametrize("shuffle", [False, True])
def test_trace_names_the_recipient_of_a_leaked_subset_without_canaries(
    two_extractions, tmp_path, shuffle, people
):
    a, b, ra, rb, canary_ids = two_extractions
    for ext, rows, seed in ((a, ra, 1), (b, rb, 2)):
        path = write_csv(tmp_path / f"leak{ext.pk}.csv", leak(rows, 0.3, shuffle, seed, False, canary_ids))
        result = svc.trace(path, user=people["comp"])
        assert result.best.extraction.pk == ext.pk
        assert result.best.confidence in ("high", "certain")
        assert not result.best.canaries
        other = next(c for c in result.candidates if c.extraction.pk != ext.pk)
        assert other.p_value > 1e-3
        assert ext.recipient_user.username in result.best.statement()
    assert AuditEntry.objects.filter(action="extraction.trace", username="comp").count() == 2


def test_trace_by_canary_is_certain_even_when_trimmed_and_shuffled(two_extractions, tmp_path):
    a, b, ra, rb, canary_ids = two_extractions
    rows = leak(rb, 0.1, True, 3, True, canary_ids)
    rows = [[c.strip() for c in r] for r in rows]
    path = write_csv(tmp_path / "leak.csv", rows)
    result = svc.trace(path)
    assert result.best.extraction.pk == b.pk
    assert result.best.confidence == "certain" and result.best.strong_canaries == 1


def test_a_canary_counts_by_its_id_or_mobile_or_two_fields_in_one_row_not_by_a_shared_name(
    two_extractions, tmp_path, keys
):
    """A real customer may be named like a canary (synthetic names are common names): a name or an
    address alone is no canary hit; the canary's ID number or mobile, or its name and address in one
    row, are."""
    a, b, ra, rb, canary_ids = two_extractions
    c = Canary.objects.filter(extraction=b).first()
    name, id_no = keys.open_(c.name_enc, "canary.name"), keys.open_(c.id_no_enc, "canary.id_no")
    mobile, address = keys.open_(c.mobile_enc, "canary.mobile"), keys.open_(c.address_enc, "canary.address")

    def hits(rows):
        return leaks._canary_hits(keys, rows).get(c.pk)

    assert hits([["姓名", "地址"], [name, "广东省广州市天河区某路1号"], ["王五", address]]) is None
    assert hits([[name, "13900000000"]]) is None
    assert hits([[name, address]]) == ["address", "name"]
    assert hits([["x", id_no]]) == ["id_no"]
    assert hits([[" " + mobile[:3] + "-" + mobile[3:] + " "]]) == ["mobile"]


def test_trace_by_row_order_when_marks_are_trimmed(two_extractions, tmp_path):
    a, b, ra, rb, canary_ids = two_extractions
    # half the rows: at 30 % a run once matched 21 rows (some lack both ID and mobile), and 20 ordered
    # pairs give p = 2 × 2^-20 ≈ 1.9e-6, just short of "high" (< 1e-6)
    rows = [[c.strip() for c in r] for r in leak(ra, 0.5, False, 4, False, canary_ids)]
    # only identity columns survive (re-typed into another sheet): ID number and mobile
    rows = [[r[6], r[7]] for r in rows]
    wb = openpyxl.Workbook()
    for r in rows:
        wb.active.append(r)
    wb.save(tmp_path / "leak.xlsx")
    result = svc.trace(tmp_path / "leak.xlsx")
    assert result.best.extraction.pk == a.pk and result.best.confidence == "high"


def test_trace_of_an_unrelated_file_names_nobody(two_extractions, tmp_path):
    path = write_csv(tmp_path / "other.csv", [["姓名", "手机"], ["无关", "13900000000"]])
    assert svc.trace(path).candidates == []


# --- replacing the blind-index key ----------------------------------------------------------------------------


def test_replacing_the_blind_index_key_rebuilds_indexes_and_keeps_nonces_and_tracing(
    two_extractions, tmp_path, monkeypatch, client
):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from custos.access import posture
    from custos.crypto import indexkey
    from custos.crypto.fields import blind_index
    from custos.crypto.fields import keys as process_keys

    a, b, ra, rb, canary_ids = two_extractions
    person = Party.objects.filter(role="applicant").order_by("id").first()
    old_digest = person.id_no_bidx
    assert old_digest == blind_index(person.id_no, "id_no")
    before = process_keys(reload=True)
    sealed_before = before.seal(person.id_no, "book_party.id_no", deterministic=True)
    old_blind = keyring.read()["blind_index_key"]

    with pytest.raises(CommandError, match="--yes"):  # unattended: no prompt, a one-line refusal
        call_command("keys", "replace-index-key")
    assert keyring.read()["blind_index_key"] == old_blind

    # a failure half-way changes nothing the application reads; running again finishes
    real_rebuild = indexkey._rebuild

    def failing(new):  # the rebuild's transaction dies after writing some indexes
        with transaction.atomic():
            Party.objects.update(id_no_bidx="x")
            raise RuntimeError("disk full")

    monkeypatch.setattr(indexkey, "_rebuild", failing)
    with pytest.raises(RuntimeError):
        indexkey.replace()
    data = keyring.read()
    assert data["blind_index_key"] == old_blind and data["pending_blind_index_key"]
    pending = data["pending_blind_index_key"]
    assert Party.objects.filter(id_no_bidx=blind_index(person.id_no, "id_no")).exists()
    assert any("replacement was interrupted" in f for f in posture.findings(verify_audit=False))
    assert posture.key_status()["index_key"]["pending"]
    monkeypatch.setattr(indexkey, "_rebuild", real_rebuild)

    call_command("keys", "replace-index-key", "--yes")
    data = keyring.read()
    assert data["blind_index_key"] == pending and "pending_blind_index_key" not in data
    after = process_keys()
    assert after.blind_key != before.blind_key
    # every index rebuilt under the new key: equality search works, the old digest is gone
    new_digest = blind_index(person.id_no, "id_no")
    assert new_digest != old_digest
    assert Party.objects.get(pk=person.pk).id_no_bidx == new_digest
    assert not Party.objects.filter(id_no_bidx=old_digest).exists()
    assert not Party.objects.exclude(id_no="").filter(id_no_bidx="").exists()
    for p in Party.objects.all():
        assert p.id_no_bidx == blind_index(p.id_no, "id_no")
        assert p.mobile_bidx == blind_index(p.mobile, "mobile")
    # the synthetic nonce and the tracing key are pinned at their old values
    assert after.seal(person.id_no, "book_party.id_no", deterministic=True)[12:] == sealed_before[12:]
    assert after.tracing_key == before.blind_key
    rows = leak(rb, 0.1, True, 3, True, canary_ids)
    result = svc.trace(write_csv(tmp_path / "leak.csv", rows))
    assert result.best.extraction.pk == b.pk and result.best.confidence == "certain"
    rows = leak(ra, 0.3, False, 1, False, canary_ids)
    result = svc.trace(write_csv(tmp_path / "leak2.csv", rows))
    assert result.best.extraction.pk == a.pk and result.best.confidence in ("high", "certain")
    assert AuditEntry.objects.filter(action="key_replace_index").count() == 1
    assert not any("replacement was interrupted" in f for f in posture.findings(verify_audit=False))
    make_user("sec", "it_security")
    assert client.login(username="sec", password="correct-horse-42")
    page = client.get("/security/keys/").content.decode()
    assert "已签发文件的追溯密钥与加密随机数密钥保持不变" in page and "更换未完成" not in page


# --- layering ---------------------------------------------------------------------------------------------


def _imports(path) -> set[str]:
    """Modules a file imports, at any depth (lazy imports inside functions count too)."""
    import ast

    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


def test_the_pure_canary_module_does_not_import_synth_and_extraction_has_no_import_cycle():
    from pathlib import Path

    import custos

    root = Path(custos.__file__).parent
    assert not {m for m in _imports(root / "domain" / "canary.py") if m.startswith("custos.synth")}
    mods = {p.stem: p for p in (root / "extraction").glob("*.py") if p.stem != "__init__"}
    graph = {
        name: {m.split(".")[2] for m in _imports(p) if m.startswith("custos.extraction.")}
        & set(mods) - {name}
        for name, p in mods.items()
    }

    def reaches(a, b, seen=()):
        return any(n == b or (n not in seen and reaches(n, b, (*seen, n))) for n in graph[a])

    cycles = sorted(f"{a} <-> {b}" for a in graph for b in graph[a] if reaches(b, a))
    assert cycles == [], cycles
    assert max(len(p.read_text(encoding="utf-8").splitlines()) for p in mods.values()) <= 900
