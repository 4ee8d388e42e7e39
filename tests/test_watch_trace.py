"""Leak tracing (docs/watch.md, "Leak tracing"): reading dirty leaked files, matching masked values
to parties, ranking sources by the guilt model, the canary naming its recipient, every trace audited."""

import pytest
from django.core.management import CommandError, call_command

from custos.audit.models import ChangeEvent
from custos.book.models import BookLoad, Branch, Partner, Party, Policy, Staff
from custos.watch import ingest
from custos.watch.tracing import guilt, leakfile
from custos.watch.tracing.leakfile import LeakFileError, norm_id, norm_mobile, norm_name
from custos.watch.tracing.models import LeakCase
from custos.watch.tracing.service import trace_file

HEADER = "at,system,staff_no,partner_code,action,policy_no,query,rows,terminal\n"
SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜戚谢邹喻柏水窦章云苏潘葛奚范彭郎鲁韦昌马苗凤花方俞任袁柳"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红梅鑫波斌宇浩凯健俊帆帅旭宁龙林欢阳建国"


def person(i: int) -> dict:
    return {
        "name": SURNAMES[i % len(SURNAMES)] + GIVEN[(i * 7) % len(GIVEN)] + GIVEN[(i * 11 + 3) % len(GIVEN)],
        "id_no": f"440106{1960 + i % 40}{1 + i % 12:02d}{1 + i % 28:02d}{i:03d}{i % 10}",
        "mobile": f"139{i:08d}",
    }


@pytest.fixture
def world(db, custos_home):
    return build_world(custos_home)


def build_world(custos_home):
    """60 policies: P001–P020 sold by agent A1, P021–P040 by A2, P041–P060 through bank outlet BK1;
    a reporting account RPT that exports every policy each night; A1 reads its own; A2 half of its;
    customer service CS1 a few of everyone's."""
    load = BookLoad.objects.create(source_name="t", sha256="0" * 64, status="done")
    row = {"first_load": load, "last_load": load}
    Branch.objects.create(
        branch_code="GZ", name="广州中心支公司", parent_code="", level="city", path="/GZ/", **row
    )
    for no, pos in [("A1", "agent"), ("A2", "agent"), ("CS1", "customer_service"), ("RPT", "operations")]:
        Staff.objects.create(
            staff_no=no, name="员工" + no, branch_code="GZ", channel="agency", position=pos, **row
        )
    Partner.objects.create(
        partner_code="BK1", name="某银行天河支行", kind="bank", branch_code="GZ", status="active", **row
    )
    for i in range(1, 61):
        no = f"P{i:03d}"
        Policy.objects.create(
            policy_no=no,
            channel="agency" if i <= 40 else "bancassurance",
            branch_code="GZ",
            agent_no="A1" if i <= 20 else "A2",
            partner_code="BK1" if i > 40 else "",
            status="in_force",
            **row,
        )
        p = person(i)
        Party.objects.create(
            policy_no=no, role="applicant", seq=1, gender="M", id_type="resident_id", **p, **row
        )
    lines = []
    for d in range(1, 4):
        for i in range(1, 61):
            lines.append(f"2026-03-0{d} 02:00:00,core,RPT,,export,P{i:03d},,1,batch\n")
    for i in range(1, 21):
        lines.append(f"2026-03-02 10:{i:02d}:00,core,A1,,view,P{i:03d},,1,t1\n")
    for i in range(21, 31):
        lines.append(f"2026-03-02 11:{i:02d}:00,core,A2,,view,P{i:03d},,1,t2\n")
    for i in (5, 25, 45):
        lines.append(f"2026-03-03 09:{i:02d}:00,cs,CS1,,view,P{i:03d},,1,t3\n")
    (custos_home / "watch").mkdir(exist_ok=True)
    f = custos_home / "log.csv"
    f.write_text(HEADER + "".join(lines))
    ingest.ingest([f])
    return load


def write_leak(path, header, rows, encoding="utf-8"):
    text = "\n".join(",".join(r) for r in [header, *rows]) + "\n"
    path.write_bytes(text.encode(encoding))
    return path


def masked_rows(ids):
    """Rows of the people of these policies, masked the ways leaked lists mask them."""
    out = []
    for k, i in enumerate(ids):
        p = person(i)
        if k % 3 == 0:
            out.append([p["name"][0] + "*" + p["name"][2], p["mobile"][:3] + "****" + p["mobile"][7:], ""])
        elif k % 3 == 1:
            out.append(["", "", p["id_no"][:6] + "********" + p["id_no"][14:]])
        else:
            out.append([p["name"], p["mobile"], p["id_no"]])
    return out


# --- values and columns ---------------------------------------------------------------------------


def test_masked_values_become_patterns():
    assert norm_name("张*伟") == ("", "张_伟") and norm_name("张三伟") == ("张三伟", "")
    assert norm_name("12345") == ("", "")
    assert norm_mobile("138****5678") == ("", "138____5678")
    assert norm_mobile("+86 138-1234-5678") == ("13812345678", "")
    assert norm_mobile("１３８１２３４５６７８") == ("13812345678", "")  # full-width digits
    assert norm_id("110101********1234") == ("", "110101________1234")
    assert norm_id("110101xxxxxxxx123X") == ("", "110101________123X")
    assert norm_id("11010119800101123x") == ("11010119800101123X", "")
    assert norm_id("1101**************") == ("", "")  # four digits show nothing usable
    assert norm_mobile("020-12345678") == ("", "")


@pytest.mark.parametrize(
    ("header", "fields"),
    [
        (["客户姓名", "联系电话", "证件号码"], {"name", "mobile", "id_no"}),
        (["序号", "姓名", "手机号", "身份证号", "备注"], {"name", "mobile", "id_no"}),
        (["Name", "Mobile", "ID_No"], {"name", "mobile", "id_no"}),
        (["投保人", "固定电话", "保单号"], {"name", "policy_no"}),  # a fixed line is not the mobile
    ],
)
def test_column_names_in_any_language_and_order(header, fields):
    found = leakfile.detect_header([header, ["x"] * len(header)])
    assert found is not None and set(found[1].values()) == fields


def test_columns_guessed_without_a_header():
    rows = [[person(i)["mobile"], person(i)["name"], "x"] for i in range(1, 30)]
    assert set(leakfile.sniff_columns(rows).values()) == {"mobile", "name"}


# --- ranking --------------------------------------------------------------------------------------


def test_guilt_model_small_holdings_beat_everything():
    ranked = guilt.rank(
        [
            guilt.Suspect("staff", "RPT", held=1_000_000, hits=100),
            guilt.Suspect("staff", "A1", held=300, hits=95),
            guilt.Suspect("staff", "CS1", held=5000, hits=3),
        ],
        m=100,
        universe=1_000_000,
    )
    assert [s.id for s in ranked][:2] == ["A1", "RPT"] and ranked[0].score > 0.99
    assert guilt.pgm_guilt([1, 1]) > guilt.pgm_guilt([5, 5]) > 0


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_the_small_source_outranks_the_reporting_account(world, tmp_path, encoding):
    rows = masked_rows(range(1, 19)) + [["王小二", "13700000001", ""], ["李*", "", ""]]  # foreign, weak
    path = write_leak(tmp_path / "leak.csv", ["客户姓名", "联系电话", "身份证号码"], rows, encoding)
    case = trace_file(path)
    r = case.result
    assert r["rows"] == 20 and r["matched"] == 18
    ids = [(s["kind"], s["id"]) for s in r["suspects"]]
    assert ids[0] == ("staff", "A1"), ids
    assert ids.index(("staff", "RPT")) > 0
    top = r["suspects"][0]
    assert top["evidence"]["hits"] == 18 and top["evidence"]["reads_shown"]
    assert all("*" in rec["name"] and "*" in rec["id_no"] for rec in r["records"])  # masked


def test_a_partner_outlet_leaking_what_it_sold(world, tmp_path):
    rows = [[person(i)["name"], person(i)["mobile"]] for i in range(41, 59)]
    path = write_leak(tmp_path / "bank.csv", ["姓名", "手机"], rows)
    assert trace_file(path).result["suspects"][0]["id"] == "BK1"


def test_a_mask_that_fits_two_people_matches_nobody(world, tmp_path):
    Party.objects.create(
        policy_no="P001", role="insured", seq=1, first_load=world, last_load=world,
        name=person(1)["name"][0] + "某" + person(1)["name"][2], mobile=person(1)["mobile"][:3] + "0000" + person(1)["mobile"][7:],
    )  # fmt: skip
    p = person(1)
    path = write_leak(
        tmp_path / "m.csv",
        ["姓名", "手机"],
        [[p["name"][0] + "*" + p["name"][2], p["mobile"][:3] + "****" + p["mobile"][7:]]],
    )
    assert trace_file(path).result["matched"] == 0


def test_xlsx_and_the_command_write_the_json(world, tmp_path):
    import json

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["手机号", "name"])
    for i in range(21, 31):
        ws.append([person(i)["mobile"], person(i)["name"]])
    wb.save(tmp_path / "leak.xlsx")
    out = tmp_path / "out.json"
    call_command("trace", str(tmp_path / "leak.xlsx"), "--json", str(out), stdout=open(tmp_path / "log", "w"))
    data = json.loads(out.read_text())
    assert data["matched"] == 10 and data["rows"] == 10
    assert data["suspects"][0]["kind"] == "staff" and data["suspects"][0]["id"] == "A2"
    assert set(data["suspects"][0]) == {"kind", "id", "score", "evidence"}


def test_every_trace_is_audited(world, tmp_path):
    path = write_leak(tmp_path / "a.csv", ["姓名", "手机"], [[person(2)["name"], person(2)["mobile"]]])
    case = trace_file(path, note="网上发现")
    ev = ChangeEvent.objects.get(action="watch.traced", object_id=str(case.pk))
    assert ev is not None and LeakCase.objects.count() == 1


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("leak.pdf", b"%PDF", "只能追查 CSV 或 XLSX"),
        ("empty.csv", b"", "文件为空"),
        ("cols.csv", "地址,备注\n广州市天河区体育西路1号,x\n".encode(), "第 1 行"),
        ("bad.xlsx", b"not a zip", "无法读取文件"),
        ("bin.csv", b"\xff\xfe\x00\x00garbage\x00\x81", "bin.csv"),
    ],
)
def test_bad_files_are_refused_naming_file_and_row(world, tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(LeakFileError, match=message):
        trace_file(path)
    assert LeakCase.objects.count() == 0
    with pytest.raises(CommandError, match=name):
        call_command("trace", str(path))
