"""Two custos instances exchange the industry blacklist over HTTP on loopback.

The association is a second process (`custos serve`, its own CUSTOS_HOME and database: a SQLite
file, or `<test database>_assoc` on PostgreSQL); the member is this test process with the test
database. Hits are exact; a candidate that is not listed never reaches the association in any
recoverable form (its database files, its CUSTOS_HOME and its log are searched for the number and
its plain hashes); a malformed or replayed request is refused; a member over its rate limit is
throttled; a staff load checks the staff and SC03 flags what a listed agent sold."""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import private_set_intersection.python as psi
import pytest

from custos.domain import ids

pytestmark = [pytest.mark.django_db, pytest.mark.slow, pytest.mark.xdist_group("test_blacklist_exchange")]

MAX_REQUESTS = 6  # the association's limit per member and window (the throttled member meets it)


def valid_id(body17: str) -> str:
    return body17 + ids.check_digit(body17)


LISTED = [valid_id("11010519800501031"), valid_id("44010619900101123"), valid_id("31010119750615002")]
NOT_LISTED = [valid_id("32010219850707123"), valid_id("51010719921130456"), valid_id("12010119880808777")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_assoc_url() -> str | None:
    """On the PostgreSQL suite: a fresh database `<test database name>_assoc<worker>` for the association."""
    url = os.environ.get("CUSTOS_TEST_DATABASE_URL")
    if not url:
        return None
    import dj_database_url
    import psycopg

    cfg = dj_database_url.parse(url)
    # one per xdist worker: another worker's fixture must never drop the database in use here
    name = f"{cfg['NAME']}_assoc{os.environ.get('PYTEST_XDIST_WORKER', '')}"
    admin = dict(
        host=cfg["HOST"] or "127.0.0.1", port=cfg["PORT"] or 5432, user=cfg["USER"], dbname="postgres"
    )
    if cfg.get("PASSWORD"):
        admin["password"] = cfg["PASSWORD"]
    with psycopg.connect(**admin, autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        con.execute(f'CREATE DATABASE "{name}"')
    base, _, query = url.partition("?")
    return base.rstrip("/").rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")


def _run(env, *args, timeout=600) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "custos.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, f"custos {' '.join(args)}: {proc.stderr[-2000:]}"
    return proc.stdout


def _token(out: str) -> str:
    return re.search(r"(ct_[\w-]+)", out).group(1)


@pytest.fixture(scope="module")
def association(tmp_path_factory):
    root = tmp_path_factory.mktemp("association")
    home, files = root / "home", root / "files"
    home.mkdir()
    files.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTOS_")}
    env.update(
        CUSTOS_HOME=str(home),
        CUSTOS_BLACKLIST_ROLE="association",
        CUSTOS_BLACKLIST_MAX_REQUESTS=str(MAX_REQUESTS),
        CUSTOS_LOG_LEVEL="INFO",
    )
    pg = _pg_assoc_url()
    if pg:
        env["CUSTOS_DATABASE_URL"] = pg
    _run(env, "init", "--password", "association-admin-1")
    tokens = {}
    for name in ("member-a", "member-b", "member-c"):
        tokens[name] = _token(
            _run(
                {**env, "CUSTOS_USER_PASSWORD": "member-password-1"},
                "createuser",
                name,
                "--role",
                "member",
                "--token",
            )
        )
    tokens["compliance"] = _token(
        _run(
            {**env, "CUSTOS_USER_PASSWORD": "officer-password-1"},
            "createuser",
            "officer",
            "--role",
            "compliance",
            "--token",
        )
    )
    listing = files / "list.csv"
    with listing.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id_no", "name", "company", "reason", "dismissed_on"])
        for i, n in enumerate(LISTED):
            w.writerow([n, f"黑名单{i}", "甲人寿保险股份有限公司", "倒卖客户信息", "2025-03-01"])
    _run(env, "blacklist", "add", str(listing))
    port = free_port()
    log = root / "association.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "custos.cli",
                "serve",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--no-jobs",
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{url}/login/", timeout=2):
                    break
            except OSError:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "the association did not answer"
                time.sleep(0.5)
        yield {"url": url, "env": env, "home": home, "log": log, "tokens": tokens, "pg": pg, "files": files}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def as_member(association, settings):
    from custos.blacklist.services import member

    def use(name: str):
        settings.CUSTOS_BLACKLIST_ROLE = "member"
        settings.CUSTOS_BLACKLIST_URL = association["url"]
        settings.CUSTOS_BLACKLIST_TOKEN = association["tokens"][name]
        member._setups.clear()
        return member

    return use


def association_bytes(association) -> bytes:
    """Everything the association holds: every file of its CUSTOS_HOME (the SQLite database with its
    WAL, the keyring, the task queue), its log, and on PostgreSQL a dump of its database."""
    blobs = [p.read_bytes() for p in Path(association["home"]).rglob("*") if p.is_file()]
    blobs.append(Path(association["log"]).read_bytes())
    if association["pg"]:
        dump = subprocess.run(["pg_dump", "--data-only", association["pg"]], capture_output=True, timeout=120)
        assert dump.returncode == 0, dump.stderr
        blobs.append(dump.stdout)
    return b"\n".join(blobs)


def forms(number: str) -> list[bytes]:
    """A number and what a careless implementation would keep of it: plain hashes, hex and raw."""
    raw = number.encode()
    out = [raw, number.encode("utf-16-le")]
    for algo in ("md5", "sha1", "sha256", "sha512"):
        h = hashlib.new(algo, raw)
        out += [
            h.hexdigest().encode(),
            h.hexdigest().upper().encode(),
            h.digest(),
            base64.b64encode(h.digest()),
        ]
    return out


def assoc_rows(association, sql: str) -> list[tuple]:
    if association["pg"]:
        import psycopg

        with psycopg.connect(association["pg"]) as con:
            return con.execute(sql).fetchall()
    import sqlite3

    con = sqlite3.connect(Path(association["home"]) / "custos.sqlite3")
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def call(association, token: str, path: str, payload=None) -> tuple[int, dict]:
    data = (
        None if payload is None else (payload if isinstance(payload, bytes) else json.dumps(payload).encode())
    )
    req = urllib.request.Request(
        f"{association['url']}/api/v1/blacklist/{path}",
        data=data,
        method="GET" if data is None else "POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        text = e.read()
        try:
            return e.code, json.loads(text)
        except ValueError:
            return e.code, {"detail": text.decode(errors="replace")}


def lookup_body(version: int, numbers: list[str], nonce: str | None = None) -> dict:
    request = psi.client.CreateWithNewKey(True).CreateRequest(numbers)
    return {
        "version": version,
        "nonce": nonce or os.urandom(16).hex(),
        "timestamp": int(time.time()),
        "request": base64.b64encode(request.SerializeToString()).decode(),
    }


# --- the tests ---------------------------------------------------------------------------------------


def test_hits_are_exact_and_non_hits_never_reach_the_association(association, as_member, tmp_path):
    member = as_member("member-a")
    fifteen = LISTED[0][:6] + LISTED[0][8:17]  # a listed person under their old 15-digit number
    candidates = tmp_path / "candidates.csv"
    with candidates.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id_no", "name"])
        w.writerows(
            [(NOT_LISTED[0], "甲"), (fifteen, "乙"), (NOT_LISTED[1], "丙"), (LISTED[2].lower(), "丁")]
        )
        w.writerow((NOT_LISTED[2], "戊"))
    out = tmp_path / "hits.json"
    before = assoc_rows(association, "SELECT count(*) FROM blacklist_lookup")[0][0]
    result = member.check_file(candidates, out)
    assert json.loads(out.read_text(encoding="utf-8")) == {"hits": [LISTED[0], LISTED[2]]}
    assert result.version >= 1
    # the association learnt that member-a checked five numbers, and nothing else
    rows = assoc_rows(
        association,
        "SELECT l.items FROM blacklist_lookup l JOIN auth_user u ON u.id = l.member_id "
        "WHERE u.username = 'member-a' ORDER BY l.id",
    )
    assert rows[-1] == (5,) and len(assoc_rows(association, "SELECT id FROM blacklist_lookup")) == before + 1
    events = assoc_rows(
        association, "SELECT count(*) FROM audit_changeevent WHERE action = 'blacklist.lookup'"
    )
    assert events[0][0] >= 1
    held = association_bytes(association)
    for number in NOT_LISTED:
        for form in forms(number):
            assert form not in held, f"the association holds a form of a number it was never told: {form!r}"
    for number in LISTED:  # the list itself: sealed at rest, never in clear
        assert number.encode() not in held
    # a candidate not listed is not even kept by the member's audit: counts only
    from custos.audit.models import ChangeEvent

    assert ChangeEvent.objects.filter(action="blacklist.checked").count() == 1


def test_malformed_and_replayed_requests_are_refused(association):
    token = association["tokens"]["member-a"]
    status, setup = call(association, token, "setup")
    assert status == 200 and setup["entries"] >= 3
    version = setup["version"]
    for bad, why in [
        (b"{not json", "malformed JSON"),
        ({"version": version, "nonce": "x" * 20}, "missing field"),
        ({**lookup_body(version, NOT_LISTED[:1]), "request": "bm90IGEgcmVxdWVzdA=="}, "PSI request"),
        ({**lookup_body(version, NOT_LISTED[:1]), "timestamp": int(time.time()) - 86400}, "timestamp"),
    ]:
        status, answer = call(association, token, "lookup", bad)
        assert status == 400 and why in answer["detail"], (bad, status, answer)
    body = lookup_body(version, NOT_LISTED[:1])
    assert call(association, token, "lookup", body)[0] == 200
    status, answer = call(association, token, "lookup", body)  # the same request again
    assert status == 409 and "replayed" in answer["detail"]
    assert (
        call(
            association, association["tokens"]["compliance"], "lookup", lookup_body(version, NOT_LISTED[:1])
        )[0]
        == 403
    )
    # a member may use nothing else
    req = urllib.request.Request(
        f"{association['url']}/api/v1/loads", headers={"Authorization": f"Bearer {token}"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, timeout=30)
    assert refused.value.code == 403


def test_a_member_over_its_rate_limit_is_throttled(association, as_member):
    member = as_member("member-b")
    for _ in range(MAX_REQUESTS):
        assert member.check_ids([NOT_LISTED[0]]).hits == []
    with pytest.raises(member.ExchangeError) as over:
        member.check_ids([LISTED[0]])
    assert over.value.status == 429 and "rate limit" in str(over.value)
    assert as_member("member-a").check_ids([LISTED[1]]).hits == [LISTED[1]]  # per member


def test_a_load_checks_the_staff_even_when_the_association_is_away(
    association, as_member, settings, custos_home
):
    from custos.blacklist.models import Hit, StaffCheck
    from custos.book.services import load_book

    member = as_member("member-a")
    settings.CUSTOS_BLACKLIST_URL = f"http://127.0.0.1:{free_port()}"  # nobody listens there
    load = load_book(Path(__file__).parent / "books" / "basic")
    assert load.status == "done", load.errors
    staff = StaffCheck.objects.count()
    assert (
        staff
        and StaffCheck.objects.filter(status="pending").count()
        + StaffCheck.objects.filter(status="no_id").count()
        == staff
    )
    settings.CUSTOS_BLACKLIST_URL = association["url"]
    summary = member.check_staff()
    assert summary.error == "" and summary.checked == StaffCheck.objects.filter(status="clear").count() > 0
    assert not StaffCheck.objects.filter(status="pending").exists() and not Hit.objects.exists()


def test_sc03_on_the_synthetic_book_finds_every_blacklisted_seller(
    association, as_member, tmp_path, custos_home
):
    from custos.blacklist.models import Hit
    from custos.book.services import load_book
    from custos.checks.models import Finding
    from custos.checks.services import run_check
    from custos.synth.generator import generate_book

    book = tmp_path / "book"
    generate_book(book, policies=600, seed=20, workers=1)
    # the association lists the book's blacklist as the synthetic book carries it (no staff number)
    _run(association["env"], "blacklist", "add", str(book / "truth" / "blacklist_association.csv"))
    truth = {}
    with (book / "truth" / "blacklist.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            truth[row["staff_no"]] = row["id_no"]
    assert truth
    # the listed agents are still employed here (a dismissal elsewhere is what the list reports): SC03
    # can only find their sales through the look-up, not through a leaving date
    staff_csv = book / "staff.csv"
    with staff_csv.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        if row["staff_no"] in truth:
            row["left_on"] = ""
    with staff_csv.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    as_member("member-c")
    load = load_book(book)  # the load checks every staff member against the association
    assert load.status == "done", load.errors
    assert set(Hit.objects.filter(active=True).values_list("staff_no", flat=True)) == set(truth)
    from custos.crypto.snapshot import read_arrow

    listed = read_arrow(Path(load.snapshot_path), "blacklist", ["staff_no", "id_no"]).to_pylist()
    assert {r["staff_no"] for r in listed} == set(truth) and not any(r["id_no"] for r in listed)
    run = run_check(load)
    flagged = set(Finding.objects.filter(check_code="SC03").values_list("policy_no", flat=True))
    sold = {}
    with (book / "policies.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["agent_no"] in truth:
                sold[row["policy_no"]] = row
    assert sold, "the synthetic book has policies sold by blacklisted agents"
    assert set(sold) <= flagged, sorted(set(sold) - flagged)[:10]
    assert run.status == "done"
    # without the hits, the same snapshot flags none of those policies
    from custos.checks.engine import run_checks
    from custos.checks.engine.snapshot import write_blacklist_hits

    write_blacklist_hits(Path(load.snapshot_path), [])
    without = {
        r["policy_no"] for r in run_checks(Path(load.snapshot_path)).to_pylist() if r["check"] == "SC03"
    }
    assert not set(sold) & without
    print(f"SC03: {len(sold)} policies of {len(truth)} listed sellers still employed")
