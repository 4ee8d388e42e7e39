"""Encryption at rest (issue 5): the database files, a pg_dump and the snapshot files hold none of a
book's ID numbers or phones in clear; blind-index lookups; tampered ciphertext refused; key rotation
re-encrypts while reads keep working."""

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from django.core.exceptions import FieldError
from django.core.management import CommandError, call_command
from django.db import connection

from custos.book.models import Party, PartyHistory, Staff
from custos.book.services import load_book
from custos.checks.models import Finding
from custos.crypto import keyring, rotate
from custos.crypto.fields import PREFIX, blind_index, keys
from tests.conftest import require

BASIC = Path(__file__).parent / "books" / "basic"
ROOT = Path(__file__).resolve().parent.parent


def book_secrets(book: Path = BASIC) -> set[bytes]:
    """Every ID number, mobile and phone of the book, as written and as the loader stores them."""
    out: set[str] = set()
    for table, cols in {
        "parties": ("id_no", "mobile", "phone"),
        "staff": ("id_no", "mobile"),
        "partners": ("phone",),
        "branches": ("phone",),
    }.items():
        path = book / f"{table}.csv"
        if not path.exists():
            continue
        with path.open(encoding="utf-8-sig") as f:
            for row in csv.DictReader(f):
                for c in cols:
                    v = (row.get(c) or "").strip()
                    if len(v) >= 7:
                        out |= {v, v.upper(), v.replace("-", "")}
    assert len(out) > 10
    return {s.encode() for s in out}


def leaks(data: bytes, secrets: set[bytes]) -> set[bytes]:
    return {s for s in secrets if s in data}


def files_bytes(*paths: Path) -> bytes:
    out = []
    for p in paths:
        for f in [p] if p.is_file() else sorted(x for x in p.rglob("*") if x.is_file()):
            out.append(f.read_bytes())
    return b"\n".join(out)


def test_sqlite_file_wal_and_snapshot_hold_no_id_numbers_or_phones(tmp_path):
    """A real custos home on SQLite (WAL): init, load, check — then read every byte on disk."""
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTOS_")}
    env.update(CUSTOS_HOME=str(home), CUSTOS_ADMIN_PASSWORD="correct-horse-42", DJANGO_SETTINGS_MODULE="")
    env.pop("DJANGO_SETTINGS_MODULE")
    custos = [str(ROOT / ".venv" / "bin" / "custos")]
    for args in (["init"], ["load", str(BASIC)], ["check"]):
        r = subprocess.run(custos + args, env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, (args, r.stdout, r.stderr)
    db_files = sorted(home.glob("custos.sqlite3*"))
    assert db_files and (home / "snapshots").is_dir()
    secrets = book_secrets()
    assert leaks(files_bytes(*db_files), secrets) == set()
    snaps = [p for p in (home / "snapshots").iterdir() if p.is_dir()]
    assert snaps and all((p / "parties.parquet").exists() for p in snaps)
    assert leaks(files_bytes(home / "snapshots"), secrets) == set()
    assert not list((home / "uploads").glob("*/*")) if (home / "uploads").exists() else True
    # the values are there, sealed: the same home reads them back through the ORM
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django,os;os.environ['DJANGO_SETTINGS_MODULE']='custos.settings';"
            "django.setup();from custos.book.models import Party;"
            "print(Party.objects.get(policy_no='PL0001',role='applicant').id_no)",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert r.stdout.strip() == "440101198005061234", r.stderr


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_pg_dump_and_snapshot_hold_no_id_numbers_or_phones(custos_home):
    require(connection.vendor == "postgresql", "PostgreSQL run only")
    require(shutil.which("pg_dump") is not None, "pg_dump is not installed")
    load = load_book(BASIC)
    assert load.status == "done"
    call_command("check", stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert Finding.objects.exists()
    sd = connection.settings_dict
    dump = subprocess.run(
        [
            "pg_dump",
            "-h",
            sd["HOST"] or "127.0.0.1",
            "-p",
            str(sd["PORT"] or 5432),
            "-U",
            sd["USER"],
            sd["NAME"],
        ],
        capture_output=True,
        timeout=300,
        check=True,
    ).stdout
    assert b"book_party" in dump and PREFIX.encode() in dump
    secrets = book_secrets()
    assert leaks(dump, secrets) == set()
    assert leaks(files_bytes(Path(load.snapshot_path)), secrets) == set()


pytestmark_db = pytest.mark.django_db


@pytestmark_db
def test_blind_index_lookups_and_no_search_on_ciphertext(custos_home):
    assert load_book(BASIC).status == "done"
    p = Party.objects.filter(id_no_bidx=blind_index(" 440101198005061234 ", "id_no")).order_by("id").first()
    assert p is not None and p.id_no == "440101198005061234"
    assert p.mobile_bidx == blind_index("+86 139-1234-5678", "mobile")
    assert Party.objects.filter(mobile_bidx=blind_index("13912345678", "mobile")).count() >= 1
    assert Staff.objects.filter(id_no_bidx="").count() < Staff.objects.count()
    with pytest.raises(FieldError, match="blind index"):
        list(Party.objects.filter(id_no="440101198005061234"))
    with pytest.raises(FieldError, match="encrypted"):
        list(Party.objects.filter(mobile__contains="139"))
    assert Party.objects.filter(email="").exists()  # empty stays empty and can be asked for
    # the stored form
    with connection.cursor() as cur:
        cur.execute("SELECT id_no, mobile, address FROM book_party WHERE id = %s", [p.pk])
        stored = cur.fetchone()
    assert all(v.startswith(PREFIX) for v in stored)


@pytestmark_db
def test_tampered_or_moved_ciphertext_is_refused(custos_home):
    assert load_book(BASIC).status == "done"
    p = Party.objects.exclude(phone="").order_by("id").first()
    with connection.cursor() as cur:
        cur.execute("SELECT mobile, phone FROM book_party WHERE id = %s", [p.pk])
        mobile, phone = cur.fetchone()
        body = mobile[len(PREFIX) + 9 :]
        flipped = body[:20] + ("A" if body[20] != "A" else "B") + body[21:]
        cur.execute(
            "UPDATE book_party SET mobile = %s, phone = %s WHERE id = %s",
            [mobile[: len(PREFIX) + 9] + flipped, mobile, p.pk],
        )
    with pytest.raises(InvalidTag):
        Party.objects.get(pk=p.pk)
    with connection.cursor() as cur:  # a valid mobile ciphertext moved into phone: wrong column
        cur.execute("UPDATE book_party SET mobile = %s WHERE id = %s", [mobile, p.pk])
    with pytest.raises(InvalidTag):
        Party.objects.get(pk=p.pk)


@pytestmark_db
def test_rotation_reencrypts_while_reads_keep_working(custos_home, monkeypatch):
    assert load_book(BASIC).status == "done"
    book2 = custos_home.parent / "book2"
    shutil.copytree(BASIC, book2)
    text = (book2 / "parties.csv").read_text(encoding="utf-8")
    (book2 / "parties.csv").write_text(text.replace("13912345678", "13000000000"), encoding="utf-8")
    assert load_book(book2).status == "done"
    assert PartyHistory.objects.filter(field="mobile").exists()
    expected = {
        p.pk: (p.id_no, p.mobile, p.phone, p.address, p.email, p.original) for p in Party.objects.all()
    }
    findings_before = sorted(Finding.objects.values_list("pk", "value"))
    history = [(h.old(), h.new()) for h in PartyHistory.objects.order_by("id")]
    old_id = keys().current_id

    new_id = rotate.rotate()
    assert new_id != old_id and keys().current_id == new_id
    seen_mixed = []
    real_write = rotate._write_status

    def read_between_batches(data):  # called after every batch: the app reads meanwhile
        real_write(data)
        by_key = rotate.counts_by_key()
        seen_mixed.append(old_id in by_key and new_id in by_key)
        now = {
            p.pk: (p.id_no, p.mobile, p.phone, p.address, p.email, p.original) for p in Party.objects.all()
        }
        assert now == expected

    monkeypatch.setattr(rotate, "_write_status", read_between_batches)
    monkeypatch.setattr(rotate, "BATCH", 3)
    status = rotate.reencrypt()
    assert any(seen_mixed)  # reads were checked while old and new keys were both in use
    assert status["state"] == "done" and status["retired"] == [old_id]
    assert rotate.counts_by_key().keys() == {new_id}
    assert old_id not in {e["id"] for e in keyring.read()["data_keys"]}
    assert {
        p.pk: (p.id_no, p.mobile, p.phone, p.address, p.email, p.original) for p in Party.objects.all()
    } == expected
    assert [(h.old(), h.new()) for h in PartyHistory.objects.order_by("id")] == history
    assert sorted(Finding.objects.values_list("pk", "value")) == findings_before
    # a load after rotation sees no change where nothing changed (synthetic nonces are key-independent)
    again = load_book(book2, mode="full")
    assert again.status in ("done", "noop")
    if again.status == "done":
        assert again.change_counts["parties"]["updated"] == 0


@pytestmark_db
def test_keys_command_status_and_rotate_and_the_key_status_page(custos_home, capsys, client):
    from custos.access.models import Role
    from tests.conftest import make_user

    assert load_book(BASIC).status == "done"
    call_command("keys", "status")
    out = capsys.readouterr().out
    assert "primary" in out and "values" in out
    old = keys().current_id
    call_command("keys", "rotate", "--wait")
    out = capsys.readouterr().out
    assert "new primary data key" in out and f"retired: {old}" in out
    assert len(keys(reload=True).data_keys) == 1
    make_user("sec", Role.IT_SECURITY)
    assert client.login(username="sec", password="correct-horse-42")
    html = client.get("/security/keys/").content.decode()
    assert "数据密钥轮换" in html and keys().current_id in html and old in html and "status-done" in html


@pytestmark_db
def test_upload_is_deleted_once_its_load_ends(custos_home):
    from custos import paths
    from custos.book import tasks
    from custos.book.models import BookLoad

    up = paths.uploads_dir() / "abc123"
    shutil.copytree(BASIC, up / "basic")
    load = BookLoad.objects.create(source_name="basic", sha256="x")
    assert tasks.run_load.call_local(load.pk, str(up / "basic")) == "done"
    assert not up.exists()


@pytestmark_db
def test_snapshot_opens_sealed_values_in_a_helper_process(custos_home, monkeypatch):
    from custos.book.loader import snapshot_write
    from custos.crypto.snapshot import read_arrow

    monkeypatch.setattr(snapshot_write, "PARALLEL_OPEN_FROM", 1)  # every batch: half in the spawned process
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    load = load_book(BASIC)
    assert load.status == "done"
    parties = read_arrow(Path(load.snapshot_path), "parties").to_pylist()
    by_key = {(p.policy_no, p.role, p.seq): p for p in Party.objects.filter(gone_load__isnull=True)}
    assert len(parties) == len(by_key)
    for r in parties:
        p = by_key[(r["policy_no"], r["role"], r["seq"])]
        assert (r["id_no"] or "", r["mobile"] or "", r["address"] or "", r["email"] or "") == (
            p.id_no,
            p.mobile,
            p.address,
            p.email,
        )


@pytestmark_db
def test_the_engine_decrypts_the_snapshot_with_the_full_crypto_module(custos_home):
    """DuckDB's built-in read-only crypto made reading the 1 M book's parties 0.8 CPU s dearer; the
    engine loads httpfs (OpenSSL) from the offline wheel whenever the snapshot is encrypted."""
    from custos.checks.engine import duck
    from custos.crypto import snapshot as esnap

    load = load_book(BASIC)
    assert load.status == "done" and esnap.key_id(Path(load.snapshot_path))
    con = duck.connect(1)
    try:
        loaded = "SELECT loaded FROM duckdb_extensions() WHERE extension_name = 'httpfs'"
        assert con.execute(loaded).fetchone() in (None, (False,))
        duck.register_snapshot(con, Path(load.snapshot_path))
        assert con.execute(loaded).fetchone() == (True,)
        n = con.execute("SELECT count(*) FROM parties").fetchone()[0]
        assert n == Party.objects.filter(gone_load__isnull=True).count() > 0
    finally:
        con.close()


@pytestmark_db
def test_key_page_rotates_the_data_key_in_the_background_and_refuses_a_second_rotation(
    custos_home, client, monkeypatch
):
    from huey.contrib.djhuey import HUEY

    from custos.access.models import Role
    from custos.audit.models import AuditEntry
    from custos.crypto import rotate
    from tests.conftest import make_user

    assert load_book(BASIC).status == "done"
    old = keys(reload=True).current_id
    make_user("comp", Role.COMPLIANCE)
    assert client.login(username="comp", password="correct-horse-42")
    assert client.post("/security/keys/rotate/").status_code == 403
    assert keys(reload=True).current_id == old

    make_user("sec", Role.IT_SECURITY)
    assert client.login(username="sec", password="correct-horse-42")
    monkeypatch.setattr(HUEY, "immediate", True)
    assert client.post("/security/keys/rotate/").status_code == 302
    new = keys(reload=True).current_id
    assert new != old and rotate.read_status()["state"] == "done"
    assert set(rotate.counts_by_key()) == {new}  # every stored value re-sealed, the old key retired
    assert old not in keys().data_keys
    entry = AuditEntry.objects.filter(action="key_rotate").latest("seq")
    assert entry.username == "sec" and entry.outcome == "ok" and new in entry.record_ids

    status = rotate.read_status()
    rotate._write_status({**status, "state": "running"})  # a rotation still in progress
    page = client.get("/security/keys/").content.decode()
    assert "轮换进行中" in page and "/security/keys/rotate/" not in page  # no button while one runs
    response = client.post("/security/keys/rotate/")  # e.g. from a page loaded before it started
    assert response.status_code == 409 and "上一次轮换尚未完成" in response.content.decode()
    assert keys(reload=True).current_id == new
    assert AuditEntry.objects.filter(action="key_rotate", outcome="refused").exists()
    with pytest.raises(CommandError, match="still running"):  # the command refuses it too
        call_command("keys", "rotate")
    assert keys(reload=True).current_id == new
