"""The access history: ingest (formats, errors, all or nothing, idempotency), encryption at rest,
enrichment with the book, custos's own reads."""

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command

from custos.watch import book, ingest, store
from custos.watch.models import IngestedFile

HEADER = "at,system,staff_no,partner_code,action,policy_no,query,rows,terminal\n"


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def history_rows(where=""):
    con = store.connect()
    try:
        src = store.source(con)
        return con.execute(
            f'SELECT staff_no, policy_no, action, rows, known, day, at_local, system FROM {src} {where} ORDER BY "at", policy_no'
        ).fetchall()
    finally:
        con.close()


@pytest.fixture
def world(small_book, custos_home):
    return small_book


def test_ingest_csv_and_idempotent(world, tmp_path):
    f = write(
        tmp_path / "a.csv",
        HEADER
        + "2026-03-02 09:00:00,core,A1,,view,P1,,1,10.0.0.1\n"
        + "2026-03-02 09:00:00,core,A1,,view,P1,,1,10.0.0.1\n"  # the same read twice in one file: two reads
        + "2026-03-02T23:30:00+00:00,cs,A2,,search,P3,138****5678,1,t9\n"
        + "2026-03-02 10:00:00,core,ZZ999,,view,P2,,,t\n",
    )
    r = ingest.ingest([f])
    assert r.added == 4 and r.files[0]["unknown_staff"] == 1
    rows = history_rows()
    assert len(rows) == 4
    # no offset: Asia/Shanghai; 23:30 UTC is the next morning in Shanghai
    late = [x for x in rows if x[0] == "A2"][0]
    assert late[5] == dt.date(2026, 3, 3) and late[6] == dt.datetime(2026, 3, 3, 7, 30)
    assert [x for x in rows if x[0] == "ZZ999"][0][4] is False  # kept, flagged
    assert [x for x in rows if x[0] == "ZZ999"][0][3] == 1  # empty rows: one record shown
    # the same file again: nothing; an overlapping export: only its new read
    assert ingest.ingest([f]).files[0]["skipped"] is True
    g = write(
        tmp_path / "b.csv",
        HEADER
        + "2026-03-02 09:00:00,core,A1,,view,P1,,1,10.0.0.1\n"
        + "2026-03-04 09:00:00,core,A1,,print,P4,,1,x\n",
    )
    r2 = ingest.ingest([g])
    assert r2.files[0]["rows"] == 2 and r2.added == 1
    assert len(history_rows()) == 5
    assert IngestedFile.objects.count() == 2


def test_gb18030_bom_and_parquet(world, tmp_path):
    gb = write(
        tmp_path / "gb.csv", HEADER + "2026-03-02 09:00:00,核心系统,A1,,view,P1,,1,柜面终端\n", "gb18030"
    )
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + (HEADER + "2026-03-02 09:05:00,core,A1,,view,P4,,1,t\n").encode())
    pqf = tmp_path / "log.parquet"
    pq.write_table(
        pa.table(
            {
                "at": [dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)],
                "system": ["partner_portal"],
                "staff_no": ["BK1-U1"],
                "partner_code": ["BK1"],
                "action": ["VIEW"],
                "policy_no": ["P2"],
                "query": [None],
                "rows": [1],
                "terminal": ["x"],
            }
        ),
        pqf,
    )
    r = ingest.ingest([gb, bom, pqf])
    assert r.added == 3
    rows = history_rows()
    assert {x[7] for x in rows} == {"核心系统", "core", "partner_portal"}
    partner = [x for x in rows if x[0] == "BK1-U1"][0]
    assert partner[4] is True  # a partner outlet's user is known through the outlet
    assert partner[6] == dt.datetime(2026, 3, 2, 9, 0)


@pytest.mark.parametrize(
    "line,expected",
    [
        ("yesterday,core,A1,,view,P1,,1,t", "bad.csv, row 3, column at"),
        ("2026-03-02 09:00:00,core,A1,,peek,P1,,1,t", "bad.csv, row 3, column action"),
        ("2026-03-02 09:00:00,core,A1,,view,P1,,many,t", "bad.csv, row 3, column rows"),
        ("2026-03-02 09:00:00,core,,,view,P1,,1,t", "bad.csv, row 3, column staff_no"),
        ("2026-03-02 09:00:00,core,A1,,view,,,1,t", "bad.csv, row 3, column policy_no"),
    ],
)
def test_bad_rows_fail_everything(world, tmp_path, line, expected):
    good = write(tmp_path / "good.csv", HEADER + "2026-03-02 09:00:00,core,A1,,view,P1,,1,t\n")
    bad = write(tmp_path / "bad.csv", HEADER + "2026-03-02 09:00:00,core,A1,,view,P4,,1,t\n" + line + "\n")
    with pytest.raises(ingest.IngestError) as e:
        ingest.ingest([good, bad])
    assert e.value.errors[0].startswith(expected), e.value.errors
    assert history_rows() == [] and not IngestedFile.objects.exists()
    assert not list((custos_home_dir() / "watch").glob(".staging-*"))


def custos_home_dir():
    from custos import paths

    return paths.home()


def test_missing_column_and_cli(world, tmp_path):
    f = write(
        tmp_path / "nocol.csv", "at,system,staff_no,action,policy_no\n2026-03-02 09:00:00,core,A1,view,P1\n"
    )
    with pytest.raises(CommandError, match=r"nocol.csv, row 1, column rows: missing column"):
        call_command("watch", "ingest", str(f))
    with pytest.raises(CommandError, match="no such file"):
        call_command("watch", "ingest", str(tmp_path / "absent.csv"))
    bad = tmp_path / "latin.csv"
    bad.write_bytes(HEADER.encode() + b"\xff\xfe\xfa\n")
    with pytest.raises(CommandError, match="neither UTF-8 nor GB18030"):
        call_command("watch", "ingest", str(bad))


def test_encrypted_at_rest(world, tmp_path):
    f = write(tmp_path / "a.csv", HEADER + "2026-03-02 09:00:00,core,QX7781234,,view,P1,QRY55501234,1,t\n")
    ingest.ingest([f])
    files = list(store.root().glob("day=*/*.parquet"))
    assert files and (store.root() / "ENCRYPTION.json").exists()
    for p in files:
        data = p.read_bytes()
        assert data.endswith(b"PARE")  # Parquet modular encryption, encrypted footer
        assert b"QX7781234" not in data and b"QRY55501234" not in data
    assert history_rows()[0][0] == "QX7781234"


def test_enrichment_own_portfolio(world, tmp_path):
    from custos.book.models import Staff

    Staff.objects.create(
        staff_no="CS1",
        name="客服",
        branch_code="GD",
        position="customer_service",
        first_load=world,
        last_load=world,
    )
    f = write(
        tmp_path / "a.csv",
        HEADER
        + "2026-03-02 09:00:00,core,A1,,view,P1,,1,t\n"  # A1's own policy
        + "2026-03-02 09:01:00,core,A1,,view,P3,,1,t\n"  # A2's, in Beijing
        + "2026-03-02 09:02:00,partner_portal,BK1-U1,BK1,view,P2,,1,t\n"  # sold through BK1
        + "2026-03-02 09:03:00,partner_portal,BK1-U1,BK1,view,P1,,1,t\n"  # not BK1's
        + "2026-03-02 09:04:00,cs,CS1,,view,P2,,1,t\n"  # Shenzhen: in GD's subtree
        + "2026-03-02 09:05:00,cs,CS1,,view,P3,,1,t\n",  # Beijing: outside it
    )
    ingest.ingest([f])
    con = store.connect()
    try:
        book.register(con)
        got = con.execute(
            f"SELECT staff_no, policy_no, own, in_branch, position, peer_group FROM ({book.enriched_sql(store.source(con))})"
        ).fetchall()
    finally:
        con.close()
    own = {(s, p): o for s, p, o, _, _, _ in got}
    assert own == {
        ("A1", "P1"): True,
        ("A1", "P3"): False,
        ("BK1-U1", "P2"): True,
        ("BK1-U1", "P1"): False,
        ("CS1", "P2"): True,
        ("CS1", "P3"): False,
    }
    assert {(s, pos, g) for s, _, _, _, pos, g in got} >= {
        ("A1", "agent", "agent"),
        ("BK1-U1", "partner", "partner@bank"),
    }


def test_custos_reads_join_the_history(world):
    from custos.access import readlog
    from custos.book.models import Party

    ids = list(Party.objects.filter(policy_no__in=["P1", "P4"]).values_list("pk", flat=True))
    readlog.append(user=None, staff_no="A1", action="lookup", model="party", record_ids=ids, fields=["name"])
    readlog.append(user=None, staff_no="A1", action="load_errors", model="load", record_ids=[1], fields=[])
    from custos.watch.audit_export import export_audit

    r = export_audit()
    assert r["entries"] == 1 and r["added"] == 2
    rows = history_rows()
    assert sorted((x[0], x[1], x[2], x[7]) for x in rows) == [
        ("A1", "P1", "search", "custos"),
        ("A1", "P4", "search", "custos"),
    ]
    assert export_audit()["added"] == 0
    assert len(history_rows()) == 2


def test_overlapping_exports_count_copies(world, tmp_path):
    """Row-level idempotency is a multiset: a read stored twice is not added again by a later file
    holding it twice, a third copy is; two files of one ingest sharing a read store it once."""
    two = "2026-03-02 09:00:00.250000,core,A1,,view,P1,,1,t\n" * 2
    a = write(tmp_path / "a.csv", HEADER + two + "2026-03-02T23:30:00+05:30,cs,A2,,search,,13*,,t\n")
    assert ingest.ingest([a]).added == 3
    b = write(
        tmp_path / "b.csv",
        HEADER + two + two[: len(two) // 2] + "2026-03-03 09:00:00,core,A1,,view,P4,,1,t\n",
    )
    r = ingest.ingest([b])
    assert r.added == 2 and r.files[0]["rows"] == 4
    c = write(tmp_path / "c.csv", HEADER + "2026-03-05 10:00:00,core,A1,,view,P1,,1,t\n")
    d = write(
        tmp_path / "d.csv",
        HEADER + "2026-03-05 10:00:00,core,A1,,view,P1,,1,t\n2026-03-05 11:00:00,core,A1,,view,P1,,1,t\n",
    )
    assert [f["added"] for f in ingest.ingest([c, d]).files] == [1, 1]
    assert len(history_rows()) == 7


def test_daylight_saving_zone(world, tmp_path, settings):
    settings.CUSTOS_WATCH = {"timezone": "Europe/Berlin"}  # no fixed offset: DuckDB's ICU zones
    c = write(
        tmp_path / "c.csv",
        HEADER + "2026-07-01 12:00:00,core,A1,,view,P1,,1,t\n2026-01-15 12:00:00,core,A1,,view,P1,,1,t\n",
    )
    assert ingest.ingest([c]).added == 2
    con = store.connect()
    try:
        got = con.execute(
            f'SELECT at_local, day, epoch("at") FROM {store.source(con)} ORDER BY "at"'
        ).fetchall()
    finally:
        con.close()
    utc = [dt.datetime.fromtimestamp(e, dt.UTC).replace(tzinfo=None) for _, _, e in got]
    assert [g[0] for g in got] == [dt.datetime(2026, 1, 15, 12), dt.datetime(2026, 7, 1, 12)]
    assert utc == [dt.datetime(2026, 1, 15, 11), dt.datetime(2026, 7, 1, 10)]


def test_bad_row_deep_in_a_file_is_named(world, tmp_path):
    """Rows are numbered as the file has them, past DuckDB's first chunks; a ragged row names its line."""
    good = "2026-03-02 09:00:00,core,A1,,view,P1,,1,t\n"
    f = write(
        tmp_path / "long.csv",
        HEADER + good * 7000 + "2026-03-02 09:00:00,core,A1,,view,P1,,-3,t\n" + good * 10,
    )
    with pytest.raises(ingest.IngestError) as e:
        ingest.ingest([f])
    assert e.value.errors == ["long.csv, row 7002, column rows: negative"]
    g = write(
        tmp_path / "ragged.csv", HEADER + good * 3 + "2026-03-02 09:00:00,core,A1,,view,P1,,1,t,extra\n"
    )
    with pytest.raises(ingest.IngestError, match=r"ragged.csv, row 5: 10 values for 9 columns"):
        ingest.ingest([g])
    assert history_rows() == [] and not IngestedFile.objects.exists()


def test_values_in_spaces_are_trimmed(world, tmp_path):
    f = write(tmp_path / "s.csv", HEADER + "2026-03-02 09:00:00 ,core, A1 ,, View ,P1 ,, 1 ,t\n")
    assert ingest.ingest([f]).added == 1
    assert history_rows() == [
        ("A1", "P1", "view", 1, True, dt.date(2026, 3, 2), dt.datetime(2026, 3, 2, 9), "core")
    ]
