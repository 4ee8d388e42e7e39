"""Loading a book: inputs, encodings, validation, history, snapshot, the command.

The fixture book tests/books/basic is small and hand-made; tests copy it and change what they test.
"""

import csv
import datetime as dt
import io
import os
import shutil
import time
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from custos.book.models import MODELS, BookLoad, Party, PartyHistory, Policy
from custos.book.services import current_snapshot, load_book
from custos.crypto.snapshot import read_arrow
from custos.domain.bookformat import SNAPSHOT_TABLES, TABLES
from tests.conftest import require

BASIC = Path(__file__).parent / "books" / "basic"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _home(custos_home):
    return custos_home


def copy_book(tmp_path: Path, name: str = "book") -> Path:
    dest = tmp_path / name
    shutil.copytree(BASIC, dest)
    return dest


def read(book: Path, table: str) -> list[list[str]]:
    with open(book / f"{table}.csv", encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def write(book: Path, table: str, rows: list[list[str]], encoding: str = "utf-8") -> None:
    with open(book / f"{table}.csv", "w", encoding=encoding, newline="") as f:
        csv.writer(f).writerows(rows)


def set_cell(book: Path, table: str, row: int, column: str, value: str) -> None:
    """row as a spreadsheet counts it: header is row 1."""
    rows = read(book, table)
    rows[row - 1][rows[0].index(column)] = value
    write(book, table, rows)


def snapshot_rows() -> dict[str, list[tuple]]:
    """Every table's current rows (format columns only), sorted: what a book 'means'."""
    out = {}
    for name, model in MODELS.items():
        cols = TABLES[name].column_names
        out[name] = sorted(
            model.objects.filter(gone_load__isnull=True).values_list(*cols), key=lambda r: tuple(map(str, r))
        )
    return out


def errors_of(load: BookLoad) -> list[str]:
    return [f"{e['file']}:{e['row']}:{e['column']}: {e['message']}" for e in load.errors]


def assert_same_book(load: BookLoad, reference: dict) -> None:
    assert load.status == "done", errors_of(load)
    for table, counts in load.change_counts.items():
        assert counts["new"] == counts["updated"] == counts["gone"] == 0, (table, counts)
    assert snapshot_rows() == reference


# --- a good book ---------------------------------------------------------------------------------


def test_basic_book_loads_normalised(tmp_path):
    load = load_book(BASIC)
    assert load.status == "done", errors_of(load)
    assert load.row_counts == {
        "branches": 3,
        "staff": 3,
        "partners": 1,
        "policies": 3,
        "parties": 7,
        "changes": 2,
        "visits": 2,
    }
    assert load.progress == 100
    p = Party.objects.get(policy_no="PL0002", role="applicant", seq=1)
    # full-width digits and Ｘ become ASCII, the original is kept; CJK punctuation · stays
    assert p.id_no == "65010219750304123X"
    assert p.original == {"id_no": "６５０１０２１９７５０３０４１２３Ｘ"}
    assert p.name == "阿依古丽·买买提"
    assert p.gender == "F" and p.id_type == "resident_id"
    blanks = Party.objects.get(policy_no="PL0003", role="applicant")
    assert blanks.id_no == "440101199001011234" and blanks.original == {"id_no": "  440101199001011234 "}
    # formula-looking values are plain text, never evaluated
    assert blanks.name == '=HYPERLINK("x")'
    assert (blanks.mobile, blanks.phone, blanks.address) == ("+8613800000000", "-1", "@home")
    # long-term document
    assert Party.objects.get(policy_no="PL0001", role="applicant").id_valid_until == dt.date(9999, 12, 31)
    pol = Policy.objects.get(policy_no="PL0002")
    assert (pol.channel, pol.status, str(pol.commission)) == ("bancassurance", "in_force", "250.50")
    assert Policy.objects.get(policy_no="PL0001").first_load_id == load.pk


def test_snapshot_parquet(tmp_path, custos_home):
    load = load_book(BASIC)
    snap = Path(load.snapshot_path)
    assert snap == custos_home / "snapshots" / f"load-{load.pk}"
    assert current_snapshot() == snap
    assert sorted(p.stem for p in snap.glob("*.parquet")) == sorted(SNAPSHOT_TABLES)  # not commissions
    for name in SNAPSHOT_TABLES:
        table = TABLES[name]
        t = read_arrow(snap, name)
        assert t.column_names == list(table.column_names)
        assert t.num_rows == load.row_counts[name]
    parties = read_arrow(snap, "parties")
    # grouped by role (crypto.snapshot.CLUSTER_BY), in load order within a role; the book's file
    # interleaves the roles policy by policy
    roles = parties.column("role").to_pylist()
    assert roles == sorted(roles) and len(set(roles)) == 3
    by_id = Party.objects.filter(gone_load__isnull=True).order_by("role", "id")
    keys = zip(roles, parties.column("policy_no").to_pylist(), parties.column("seq").to_pylist(), strict=True)
    assert list(keys) == [(p.role, p.policy_no, p.seq) for p in by_id]
    assert parties.schema.field("birth_date").type == pa.date32()
    assert parties.schema.field("seq").type == pa.int64()
    assert parties.column("email").null_count == 5  # empty text is null
    visits = read_arrow(snap, "visits").to_pylist()
    assert visits[0]["visited_at"] == dt.datetime(2020, 1, 20, 2, 0, tzinfo=dt.UTC)
    assert read_arrow(snap, "policies").schema.field("premium").type == pa.float64()


def test_reload_same_file_is_noop():
    first = load_book(BASIC)
    again = load_book(BASIC)
    assert again.status == "noop" and again.duplicate_of_id == first.pk
    assert Party.objects.count() == 7


# --- encodings -----------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gb18030", "gbk", "utf-8-sig"])
def test_encodings_load_identically(tmp_path, encoding):
    load_book(BASIC)
    reference = snapshot_rows()
    book = copy_book(tmp_path)
    for p in book.glob("*.csv"):
        p.write_bytes(p.read_text(encoding="utf-8").encode(encoding))
    assert (book / "parties.csv").read_bytes() != (BASIC / "parties.csv").read_bytes()
    assert_same_book(load_book(book), reference)


def test_latin1_rejected_with_offset(tmp_path):
    book = copy_book(tmp_path)
    data = (BASIC / "branches.csv").read_bytes()
    bad = data + "X1,Café Société,HO,outlet,Rue de la Paix,01\n".encode("latin-1")
    (book / "branches.csv").write_bytes(bad)
    load = load_book(book)
    assert load.status == "failed"
    offset = len(data) + len(b"X1,Caf")
    assert any(e["file"] == "branches.csv" and f"offset {offset}" in e["message"] for e in load.errors), (
        errors_of(load)
    )


def test_random_bytes_fail_fast(tmp_path):
    book = copy_book(tmp_path)
    rnd = os.urandom(50 * 1024 * 1024)
    (book / "parties.csv").write_bytes(rnd)
    (tmp_path / "random.zip").write_bytes(rnd[: 5 * 1024 * 1024])
    t0 = time.monotonic()
    load = load_book(book)
    assert time.monotonic() - t0 < 20
    assert load.status == "failed"
    assert any(e["file"] == "parties.csv" and "byte offset" in e["message"] for e in load.errors)
    load = load_book(tmp_path / "random.zip")
    assert load.status == "failed" and "zip" in load.errors[0]["message"]


# --- validation errors ---------------------------------------------------------------------------


def test_missing_required_column(tmp_path):
    book = copy_book(tmp_path)
    rows = read(book, "policies")
    i = rows[0].index("channel")
    write(book, "policies", [r[:i] + r[i + 1 :] for r in rows])
    load = load_book(book)
    assert load.status == "failed"
    assert "policies.csv:1:channel: required column is missing" in errors_of(load)


def test_missing_required_table(tmp_path):
    book = copy_book(tmp_path)
    (book / "staff.csv").unlink()
    load = load_book(book)
    assert load.status == "failed"
    assert any("required table staff" in e["message"] for e in load.errors)


@pytest.mark.parametrize(
    ("table", "row", "column", "value", "expected"),
    [
        ("policies", 2, "channel", "carrier-pigeon", "is not a channel code"),
        ("parties", 2, "birth_date", "2023-02-30", "is not a valid date"),
        ("parties", 2, "birth_date", "1980-13-01", "is not a valid date"),
        ("parties", 3, "seq", "one", "is not a whole number"),
        ("policies", 3, "premium", "12.345", "more than 2 decimal places"),
        ("visits", 2, "visited_at", "yesterday", "is not an ISO 8601 timestamp"),
        ("policies", 2, "status", "", "must not be empty"),
        ("parties", 2, "address", "x" * 501, "more than the 500 allowed"),
        ("parties", 2, "name", "张\x00伟", "NUL byte"),
        ("parties", 2, "name", "张\x07伟", "control character U+0007"),
    ],
)
def test_value_errors(tmp_path, table, row, column, value, expected):
    book = copy_book(tmp_path)
    set_cell(book, table, row, column, value)
    load = load_book(book)
    assert load.status == "failed"
    assert load.error_count == 1, errors_of(load)
    e = load.errors[0]
    assert (e["file"], e["row"], e["column"]) == (f"{table}.csv", row, column)
    assert expected in e["message"]


def test_hostile_strings_are_text(tmp_path):
    book = copy_book(tmp_path)
    set_cell(book, "parties", 2, "address", "<script>alert(1)</script>' OR 1=1; --")
    set_cell(book, "parties", 2, "email", "@SUM(1+1)*cmd|' /C calc'!A0")
    load = load_book(book)
    assert load.status == "done", errors_of(load)
    p = Party.objects.get(policy_no="PL0001", role="applicant")
    assert p.address == "<script>alert(1)</script>' OR 1=1; --"
    assert p.email == "@SUM(1+1)*cmd|' /C calc'!A0"


def test_duplicate_key(tmp_path):
    book = copy_book(tmp_path)
    rows = read(book, "policies")
    write(book, "policies", [*rows, rows[1]])
    load = load_book(book)
    assert load.status == "failed"
    assert errors_of(load) == ["policies.csv:5:policy_no: duplicate key 'PL0001'"]


def test_duplicate_party_key(tmp_path):
    book = copy_book(tmp_path)
    rows = read(book, "parties")
    write(book, "parties", [*rows, rows[1]])
    load = load_book(book)
    assert errors_of(load) == ["parties.csv:9:policy_no,role,seq: duplicate key 'PL0001/applicant/1'"]


def test_reference_to_missing_policy(tmp_path):
    book = copy_book(tmp_path)
    set_cell(book, "parties", 4, "policy_no", "NOPE")
    load = load_book(book)
    assert load.status == "failed"
    assert errors_of(load) == ["parties.csv:4:policy_no: 'NOPE' is not a policy_no in policies"]


def test_all_errors_collected_in_one_run(tmp_path):
    book = copy_book(tmp_path)
    set_cell(book, "staff", 3, "supervisor_no", "S999")
    set_cell(book, "policies", 2, "agent_no", "S404")
    set_cell(book, "policies", 3, "issued_on", "2023-02-30")
    set_cell(book, "parties", 5, "id_type", "library card")
    set_cell(book, "parties", 6, "role", "")
    set_cell(book, "visits", 2, "outcome", "maybe")
    load = load_book(book)
    assert load.status == "failed"
    found = {(e["file"], e["row"], e["column"]) for e in load.errors}
    assert found == {
        ("staff.csv", 3, "supervisor_no"),
        ("policies.csv", 2, "agent_no"),
        ("policies.csv", 3, "issued_on"),
        ("parties.csv", 5, "id_type"),
        ("parties.csv", 6, "role"),
        ("visits.csv", 2, "outcome"),
    }
    assert load.error_count == 6


def test_failed_load_changes_nothing(tmp_path):
    load_book(BASIC)
    before = snapshot_rows()
    counts = {n: m.objects.count() for n, m in MODELS.items()}
    book = copy_book(tmp_path)
    rows = read(book, "parties")
    rows[1][rows[0].index("mobile")] = "13000000000"  # a valid change ...
    rows[2][rows[0].index("birth_date")] = "2023-02-30"  # ... and an error
    write(book, "parties", rows)
    load = load_book(book)
    assert load.status == "failed" and load.error_count == 1
    assert BookLoad.objects.get(pk=load.pk).status == "failed"
    assert snapshot_rows() == before
    assert {n: m.objects.count() for n, m in MODELS.items()} == counts
    assert PartyHistory.objects.count() == 0


def test_unknown_column_is_a_warning_kept_in_extra(tmp_path):
    book = copy_book(tmp_path)
    rows = read(book, "policies")
    write(book, "policies", [[*r, "x" if i else "核保员"] for i, r in enumerate(rows)])
    (book / "notes.txt").write_text("hello")
    load = load_book(book)
    assert load.status == "done", errors_of(load)
    assert Policy.objects.get(policy_no="PL0001").extra == {"核保员": "x"}
    messages = {(w["file"], w["column"]) for w in load.warnings}
    assert ("policies.csv", "核保员") in messages and ("notes.txt", None) in messages


# --- later books ---------------------------------------------------------------------------------


def test_second_full_book_updates_history_and_gone(tmp_path):
    first = load_book(BASIC)
    book = copy_book(tmp_path)
    parties = read(book, "parties")
    h = parties[0]
    parties[1][h.index("mobile")] = "13000000000"
    parties[1][h.index("address")] = "广州市海珠区新港路1号"
    parties = [r for r in parties if r[0] != "PL0003"]
    write(book, "parties", parties)
    write(book, "policies", [r for r in read(book, "policies") if r[0] != "PL0003"])
    second = load_book(book)
    assert second.status == "done", errors_of(second)
    assert second.change_counts["parties"] == {"new": 0, "updated": 1, "unchanged": 4, "gone": 2}
    assert second.change_counts["policies"]["gone"] == 1
    rows = list(PartyHistory.objects.all())
    assert all(h.old_value.startswith("e1:") and h.new_value.startswith("e1:") for h in rows)  # sealed
    history = {(h.policy_no, h.role, h.seq, h.field, h.old(), h.new(), h.load_id) for h in rows}
    assert history == {
        ("PL0001", "applicant", 1, "mobile", "13912345678", "13000000000", second.pk),
        ("PL0001", "applicant", 1, "address", "广州市天河区天河路100号", "广州市海珠区新港路1号", second.pk),
    }
    gone = Party.objects.get(policy_no="PL0003", role="applicant")
    assert gone.gone_load_id == second.pk and gone.last_load_id == first.pk
    kept = Party.objects.get(policy_no="PL0001", role="applicant")
    assert (kept.first_load_id, kept.last_load_id, kept.mobile) == (first.pk, second.pk, "13000000000")
    assert Party.objects.count() == 7  # never deleted
    assert read_arrow(Path(second.snapshot_path), "parties").num_rows == 5

    # a delta book adds and updates, marks nothing gone
    delta = tmp_path / "delta"
    delta.mkdir()
    write(delta, "parties", [h, [*parties[3][:1], "beneficiary", "2", *parties[3][3:]]])
    d = load_book(delta, mode="delta")
    assert d.status == "done", errors_of(d)
    assert d.change_counts == {"parties": {"new": 1, "updated": 0, "unchanged": 0, "gone": 0}}
    assert Party.objects.filter(gone_load__isnull=True).count() == 6

    # the first book again: PL0003 reappears (gone cleared), the delta's extra beneficiary goes
    again = load_book(copy_book(tmp_path, "again"))
    assert again.status == "done"
    back = Party.objects.get(policy_no="PL0003", role="applicant")
    assert back.gone_load_id is None and back.last_load_id == again.pk
    assert Party.objects.get(policy_no="PL0001", role="beneficiary", seq=2).gone_load_id == again.pk


def test_delta_references_rows_already_loaded(tmp_path):
    load_book(BASIC)
    delta = tmp_path / "delta"
    delta.mkdir()
    header = read(BASIC, "policies")[0]
    write(
        delta,
        "policies",
        [
            header,
            [
                "PL0009",
                "PR1",
                "x",
                "agency",
                "GZ",
                "S002",
                "",
                "2024-01-01",
                "2024-01-02",
                "in_force",
                "1",
                "1",
                "1",
            ],
        ],
    )
    write(
        delta,
        "parties",
        [
            read(BASIC, "parties")[0],
            [
                "PL0009",
                "applicant",
                "1",
                "",
                "赵六",
                "M",
                "1990-01-01",
                "resident_id",
                "1",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
            ],
            [
                "PL0001",
                "beneficiary",
                "2",
                "son",
                "张小二",
                "M",
                "2012-01-01",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
            ],
        ],
    )
    load = load_book(delta, mode="delta")
    assert load.status == "done", errors_of(load)
    # the same partial book as a full load lacks its references and the required tables
    full = load_book(delta, mode="full")
    assert full.status == "failed"
    assert {e["message"] for e in full.errors} == {
        *(f"required table {t} is missing from the book" for t in ("branches", "staff", "partners")),
        "'PL0001' is not a policy_no in policies",  # in the database, but a full book stands alone
    }


# --- other inputs --------------------------------------------------------------------------------


def _zip(folder: Path, dest: Path, prefix: str = "book/") -> Path:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(folder.glob("*")):
            zf.write(p, prefix + p.name)
    return dest


def _xlsx(folder: Path, dest: Path, *, formula: bool = False) -> Path:
    import openpyxl

    wb = openpyxl.Workbook(write_only=True)
    for p in sorted(folder.glob("*.csv")):
        ws = wb.create_sheet(p.stem)
        for i, row in enumerate(read(folder, p.stem)):
            cells = list(row)
            if i and p.stem == "parties":
                cells[6] = dt.datetime.strptime(cells[6], "%Y-%m-%d")  # an Excel date cell
                cells[2] = int(cells[2])
            if formula and i == 2 and p.stem == "policies":
                cells[11] = "=1+1"
            cells = [None if c == "" else _text_cell(ws, c) for c in cells]
            ws.append(cells)
    wb.save(dest)
    return dest


def _text_cell(ws, value):
    """openpyxl writes any string starting with '=' as a formula; a text cell must say so."""
    from openpyxl.cell import WriteOnlyCell

    if isinstance(value, str) and value.startswith("=") and value != "=1+1":
        cell = WriteOnlyCell(ws, value)
        cell.data_type = "s"
        return cell
    return value


def _parquet(folder: Path, dest: Path) -> Path:
    dest.mkdir()
    for p in folder.glob("*.csv"):
        names = read(folder, p.stem)[0]
        opts = pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=True)
        t = pacsv.read_csv(p, convert_options=opts)
        if p.stem == "parties":
            i = t.schema.get_field_index("birth_date")
            t = t.set_column(i, "birth_date", t.column(i).cast(pa.date32()))
        pq.write_table(t, dest / f"{p.stem}.parquet")
    return dest


def test_other_inputs_load_the_same_rows(tmp_path):
    load_book(BASIC)
    reference = snapshot_rows()
    assert_same_book(load_book(_zip(BASIC, tmp_path / "book.zip")), reference)
    assert_same_book(load_book(_xlsx(BASIC, tmp_path / "book.xlsx")), reference)
    assert_same_book(load_book(_parquet(BASIC, tmp_path / "pq")), reference)


def test_xlsx_formula_is_an_error(tmp_path):
    load = load_book(_xlsx(BASIC, tmp_path / "book.xlsx", formula=True))
    assert load.status == "failed"
    assert errors_of(load) == ["book.xlsx[policies]:3:premium: cell L3 holds a formula"]


def test_zip_climbing_out_is_rejected(tmp_path):
    dest = tmp_path / "evil.zip"
    with zipfile.ZipFile(dest, "w") as zf:
        for p in BASIC.glob("*.csv"):
            zf.write(p, p.name)
        zf.writestr("../../escape.csv", "x\n")
        zf.writestr("/abs.csv", "x\n")
        info = zipfile.ZipInfo("link.csv")
        info.external_attr = 0o120777 << 16
        zf.writestr(info, "/etc/passwd")
    load = load_book(dest)
    assert load.status == "failed"
    messages = " ".join(e["message"] for e in load.errors)
    assert "'../../escape.csv' points outside" in messages
    assert "'/abs.csv' points outside" in messages
    assert "symbolic link" in messages
    assert not (tmp_path.parent / "escape.csv").exists()


def test_zip_bomb_is_rejected(tmp_path):
    dest = tmp_path / "bomb.zip"
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("parties.csv", b"0" * (60 * 1024 * 1024))
    load = load_book(dest)
    assert load.status == "failed"
    assert "compresses" in load.errors[0]["message"]


MAPPING = """\
files:
  policies: [POLICY_LIST]
columns:
  policies:
    POLNO: policy_no
    渠道: channel
codes:
  channel:
    BANK: bancassurance
    "01": agency
"""


def test_mapping(tmp_path):
    load_book(BASIC)
    reference = snapshot_rows()
    book = copy_book(tmp_path)
    rows = read(book, "policies")
    rows[0][0], rows[0][3] = "POLNO", "渠道"
    code = {"agency": "01", "银保": "BANK"}
    for r in rows[1:]:
        r[3] = code[r[3]]
    (book / "policies.csv").unlink()
    write(book, "POLICY_LIST", rows)
    mapping = tmp_path / "map.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    assert_same_book(load_book(book, mapping=mapping), reference)
    # the example mapping shipped with the docs is valid
    from custos.book.loader.mapping import load_mapping

    docs = Path(__file__).parent.parent / "docs" / "mapping-example.yaml"
    assert load_mapping(docs).columns


def test_bad_mapping_fails_with_reason(tmp_path):
    mapping = tmp_path / "map.yaml"
    mapping.write_text("columns:\n  policies:\n    X: not_a_column\n", encoding="utf-8")
    load = load_book(BASIC, mapping=mapping)
    assert load.status == "failed"
    assert "not a column of policies" in load.errors[0]["message"]


# --- the command ---------------------------------------------------------------------------------


def test_command_exit_status_and_error_lines(tmp_path):
    out, err = io.StringIO(), io.StringIO()
    call_command("load", str(BASIC), stdout=out, stderr=err)
    assert "done" in out.getvalue()
    book = copy_book(tmp_path)
    set_cell(book, "parties", 2, "birth_date", "2023-02-30")
    set_cell(book, "policies", 3, "channel", "pigeon")
    err = io.StringIO()
    with pytest.raises(CommandError) as exc:
        call_command("load", str(book), "--delta", stdout=io.StringIO(), stderr=err)
    assert exc.value.returncode == 2
    lines = err.getvalue().splitlines()
    assert "parties.csv:2:birth_date: '2023-02-30' is not a valid date" in lines
    assert "policies.csv:3:channel: 'pigeon' is not a channel code" in lines
    with pytest.raises(CommandError) as exc:
        call_command("load", str(tmp_path / "nowhere"), stdout=io.StringIO(), stderr=io.StringIO())
    assert exc.value.returncode == 1


def test_progress_callback_and_row():
    seen = []
    load = load_book(BASIC, progress=lambda pct, note: seen.append((pct, note)))
    assert seen[0][0] == 0 and seen[-1] == (100, "done")
    assert [p for p, _ in seen] == sorted(p for p, _ in seen)
    load.refresh_from_db()
    assert (load.progress, load.status) == (100, "done")


@pytest.mark.django_db(transaction=True)
def test_real_transactions_commit_or_roll_back(tmp_path):
    """Outside the test's wrapping transaction: a queued load is carried through, a failure in
    pass 2 rolls back everything it wrote."""
    queued = BookLoad.objects.create(source_name="upload.zip", sha256="", status="queued")
    load = load_book(BASIC, load=queued, source_name="upload.zip")
    assert load.pk == queued.pk
    queued.refresh_from_db()
    assert (queued.status, queued.progress, queued.source_name) == ("done", 100, "upload.zip")
    before = snapshot_rows()
    book = copy_book(tmp_path)
    set_cell(book, "parties", 2, "mobile", "13000000000")
    from custos.book.loader import write as writer

    original = writer._branch_paths

    def boom(cur):
        raise RuntimeError("disk full")

    writer._branch_paths = boom
    try:
        with pytest.raises(RuntimeError):
            load_book(book)
    finally:
        writer._branch_paths = original
    assert snapshot_rows() == before
    assert PartyHistory.objects.count() == 0
    assert BookLoad.objects.order_by("-id").first().status == "failed"


@pytest.mark.postgres
def test_a_load_leaves_planner_statistics_on_postgres():
    """PostgreSQL plans the look-ups of a freshly loaded book with the table's statistics, not as
    sequential scans until autovacuum comes round: the loader analyses what it wrote."""
    from django.db import connection

    require(connection.vendor == "postgresql", "PostgreSQL run only")
    load = load_book(BASIC)
    assert load.status == "done", errors_of(load)
    with connection.cursor() as cur:
        for model in (Party, Policy):
            cur.execute("SELECT count(*) FROM pg_stats WHERE tablename = %s", [model._meta.db_table])
            assert cur.fetchone()[0] > 0, model._meta.db_table
