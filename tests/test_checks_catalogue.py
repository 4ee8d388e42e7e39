"""Every check of rules.md, positive and negative, on one small snapshot built in tmp_path.

Each case is its own policy (clean by default, with distinct IDs, phones and addresses); a case
mutates it and states which finding must (or must not) appear. The engine runs once per module.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from custos.checks.catalogue import BY_CODE, CATALOGUE, CheckSettings
from custos.checks.engine import FINDING_SCHEMA, run_checks
from custos.checks.engine.snapshot import write_snapshot
from custos.domain import ids

AS_OF = dt.date(2026, 11, 25)


def rid(code: str, birth: str, seq: int) -> str:
    body = f"{code}{birth.replace('-', '')}{seq:03d}"
    return body + ids.check_digit(body)


def rid_x() -> str:
    """A valid number whose check digit is X."""
    for s in range(1, 999, 2):
        n = rid("110105", "1980-05-01", s)
        if n.endswith("X"):
            return n
    raise AssertionError


SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜戚谢邹喻柏水窦章云苏潘葛奚范彭郎鲁韦昌马苗凤花方俞任袁柳"


def base(i: int) -> dict:
    """A clean policy number i: applicant (male, 1980) insuring his son (2010)."""
    sn = SURNAMES[i % len(SURNAMES)]
    return {
        "policy": {"policy_no": f"P{i:04d}", "channel": "agency", "branch_code": "B1", "agent_no": "S1",
                   "partner_code": None, "applied_on": "2024-01-10", "issued_on": "2024-01-15",
                   "status": "in_force"},
        "applicant": {"role": "applicant", "seq": 1, "relation": None, "name": f"{sn}建国",
                      "gender": "M", "birth_date": "1980-05-01", "id_type": "resident_id",
                      "id_no": rid("110105", "1980-05-01", 2 * i + 1), "mobile": f"139{5270000 + i * 7:08d}",
                      "phone": None, "address": f"北京市朝阳区建国路{100 + i}号院{i % 9 + 1}号楼",
                      "postcode": "100020", "email": f"user{i}@example.com"},
        "insured": {"role": "insured", "seq": 1, "relation": "son", "name": f"{sn}小明", "gender": "M",
                    "birth_date": "2010-03-03", "id_type": "resident_id",
                    "id_no": rid("110105", "2010-03-03", 2 * i + 1), "mobile": None, "phone": None,
                    "address": None, "postcode": None, "email": None},
        "beneficiaries": [],
    }


@dataclass
class Case:
    name: str
    mutate: Callable[[dict], None]
    check: str
    role: str = "applicant"
    fld: str | None = None
    present: bool = True
    extra: list = field(default_factory=list)  # (table, row) added to the snapshot


def setp(role: str, **kw):
    def f(p):
        p[role].update(kw)
    return f


def setpol(**kw):
    def f(p):
        p["policy"].update(kw)
    return f


def both(*fs):
    def f(p):
        for g in fs:
            g(p)
    return f


def add_ben(**kw):
    def f(p):
        p["beneficiaries"].append({"role": "beneficiary", "seq": len(p["beneficiaries"]) + 1, "relation": "son",
                                   "name": p["insured"]["name"] + "儿", "gender": "M", "birth_date": "2012-01-01",
                                   "id_type": "resident_id", "id_no": rid("110105", "2012-01-01", 901), **kw})
    return f


def fullwidth(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in s)


X_ID = rid_x()
NINGXIA = "宁夏回族自治区中卫市中宁县青年路"  # + house number, estate, building, unit, room
STAFF_ID = rid("440106", "1985-07-07", 11)

def mobile_change(request_no: str | None) -> tuple[str, dict]:
    """A ``changes`` row: the applicant's mobile changed after issue, with or without a request."""
    return ("changes", {"role": "applicant", "seq": 1, "field": "mobile", "old_value": "1",
                        "new_value": "13955550000", "changed_at": "2024-03-01T09:00:00",
                        "changed_by": "S9", "request_no": request_no})

CASES: list[Case] = [
    Case("ID01 empty number", setp("applicant", id_no=None), "ID01", fld="id_no"),
    Case("ID01 empty type", setp("insured", id_type=None), "ID01", "insured", "id_type"),
    Case("ID02 17 digits", setp("applicant", id_no="11010519800501001"), "ID02", fld="id_no"),
    Case("ID02 letters", setp("applicant", id_no="11010519800501001A"), "ID02", fld="id_no"),
    Case("ID02 not for full-width with lower-case x",
         setp("applicant", id_no=fullwidth(X_ID[:17]) + "x", gender=ids.gender(X_ID)), "ID02", present=False),
    Case("ID03 not for a valid X check digit", setp("applicant", id_no=X_ID, gender=ids.gender(X_ID)), "ID03",
         present=False),
    Case("ID03 wrong check digit", setp("applicant", id_no=X_ID[:17] + "0", gender=ids.gender(X_ID)), "ID03",
         fld="id_no"),
    Case("ID04 29 Feb of a common year", setp("applicant", id_no=rid("110105", "1981-02-29", 11), birth_date=None),
         "ID04", fld="id_no"),
    Case("ID04 not for 29 Feb of a leap year",
         setp("applicant", id_no=rid("110105", "1980-02-29", 11), birth_date="1980-02-29"), "ID04", present=False),
    Case("ID04 month 13", setp("applicant", id_no=rid("110105", "1980-13-01", 11), birth_date=None), "ID04"),
    Case("ID04 future", setp("applicant", id_no=rid("110105", "2030-01-01", 11), birth_date=None), "ID04"),
    Case("ID04 before 1900", setp("applicant", id_no=rid("110105", "1899-01-01", 11), birth_date=None), "ID04"),
    Case("ID05 unknown code", setp("applicant", id_no=rid("110199", "1980-05-01", 11)), "ID05", fld="id_no"),
    *[Case(f"ID05 not for {code}", setp("applicant", id_no=rid(code, born, 11), birth_date=born), "ID05",
           present=False)
      for code, born in [("110118", "1980-05-01"), ("110119", "1980-05-01"), ("310151", "1960-01-01"),
                         ("440309", "1970-01-01"), ("440310", "1980-05-01"), ("330112", "1980-05-01"),
                         ("500103", "1950-06-01")]],
    Case("ID06 birth date differs", setp("applicant", birth_date="1980-05-02"), "ID06", fld="birth_date"),
    Case("ID07 gender differs", setp("applicant", gender="F"), "ID07", fld="gender"),
    Case("ID08 one digit repeated", setp("applicant", id_no="111111111111111111"), "ID08", fld="id_no"),
    Case("ID08 published example", setp("applicant", id_no="11010519491231002X", birth_date="1949-12-31",
                                        gender="F"), "ID08"),
    Case("ID08 sequence 000", setp("applicant", id_no=rid("110105", "1980-05-01", 0), gender="F"), "ID08"),
    Case("ID10 15 digits", setp("applicant", id_no="110105800501011"), "ID10", fld="id_no"),
    Case("ID11 HK permit shape", setp("applicant", id_type="hk_macau_permit", id_no="X1234"), "ID11"),
    Case("ID11 not for a good HK permit", setp("applicant", id_type="hk_macau_permit", id_no="H12345678"), "ID11",
         present=False),
    Case("ID11 resident ID with 810000", setp("applicant", id_no=rid("810000", "1980-05-01", 11)), "ID11"),
    Case("ID12 expired", setp("applicant", id_valid_until="2020-01-01"), "ID12", fld="id_valid_until"),
    Case("ID12 not for long-term", setp("applicant", id_valid_until="9999-12-31"), "ID12", present=False),
    Case("NM01 empty", setp("insured", name=None), "NM01", "insured", "name"),
    Case("NM02 客户", setp("applicant", name="客户"), "NM02", fld="name"),
    Case("NM02 surname + 先生", setp("applicant", name="王先生"), "NM02"),
    Case("NM02 repeated", setp("applicant", name="啊啊啊"), "NM02"),
    Case("NM02 not for a two-character name of one character", setp("applicant", name="林林"), "NM02",
         present=False),
    Case("NM03 digit", setp("applicant", name="张3"), "NM03", fld="name"),
    Case("NM03 mixed scripts", setp("applicant", name="张Wei"), "NM03"),
    Case("NM03 not for a minority name with ·", setp("applicant", name="阿依古丽·买买提"), "NM03", present=False),
    Case("NM03 not for a dot variant", setp("applicant", name="阿依古丽•买买提"), "NM03", present=False),
    Case("NM04 one character", setp("applicant", name="李"), "NM04", fld="name"),
    Case("NM04 seven without dot", setp("applicant", name="欧阳诸葛司马东方"), "NM04"),
    Case("NM04 not for a long name with ·", setp("applicant", name="阿依古丽·买买提江"), "NM04", present=False),
    Case("BD01 no birth, no ID", setp("insured", birth_date=None, id_no=None), "BD01", "insured", "birth_date"),
    Case("BD01 not when a valid ID supplies it", setp("insured", birth_date=None, gender=None), "BD01",
         "insured", present=False),
    Case("BD02 born after application", setp("insured", birth_date="2024-05-05", id_no=None), "BD02", "insured"),
    Case("BD02 older than 120", setp("insured", birth_date="1900-01-01", id_no=None, relation="other"), "BD02",
         "insured"),
    Case("BD03 applicant of 16", setp("applicant", birth_date="2008-01-01", id_no=rid("110105", "2008-01-01", 11)),
         "BD03", fld="birth_date"),
    Case("BD03 not at exactly 18", setp("applicant", birth_date="2006-01-10",
                                        id_no=rid("110105", "2006-01-10", 11)), "BD03", present=False),
    Case("RL01 father 5 years older", setp("insured", relation="father", birth_date="1975-01-01",
                                           id_no=rid("110105", "1975-01-01", 11)), "RL01", "insured", "relation"),
    Case("RL01 not for father 30 years older", setp("insured", relation="father", birth_date="1950-01-01",
                                                    id_no=rid("110105", "1950-01-01", 11)),
         "RL01", "insured", present=False),
    Case("RL01 elder brother younger", setp("insured", relation="elder_brother", birth_date="1985-01-01",
                                            id_no=rid("110105", "1985-01-01", 11)), "RL01", "insured"),
    Case("RL02 daughter male", setp("insured", relation="daughter"), "RL02", "insured", "relation"),
    Case("RL03 self, other name", setp("insured", relation="self"), "RL03", "insured", "relation"),
    Case("RL03 not for self with the same data", lambda p: p["insured"].update(
        {**{k: p["applicant"][k] for k in ("name", "gender", "birth_date", "id_type", "id_no")},
         "relation": "self"}), "RL03", "insured", present=False),
    Case("RL03 not when the applicant's name is missing (NM01's finding)", lambda p: (p["insured"].update(
        {**{k: p["applicant"][k] for k in ("name", "gender", "birth_date", "id_type", "id_no")},
         "relation": "self"}), p["applicant"].update(name=None)), "RL03", "insured", present=False),
    Case("RL04 husband of 21", setp("insured", relation="spouse", birth_date="2002-06-01", gender="F",
                                    id_no=rid("110105", "2002-06-01", 12)), "RL04", "insured", present=False),
    Case("RL04 wife of 19", setp("insured", relation="spouse", birth_date="2004-06-01", gender="F",
                                 id_no=rid("110105", "2004-06-01", 12)), "RL04", "insured", "relation"),
    Case("RL04 husband of 21 is found", setp("insured", relation="spouse", birth_date="2002-06-01", gender="M",
                                             id_no=rid("110105", "2002-06-01", 11)), "RL04", "insured"),
    Case("PH01 no phone", setp("applicant", mobile=None, phone=None), "PH01", fld="mobile"),
    Case("PH02 data-only 140", setp("applicant", mobile="14055512398"), "PH02", fld="mobile"),
    Case("PH02 IoT 1440x", setp("applicant", mobile="14405551239"), "PH02"),
    Case("PH02 10 digits", setp("applicant", mobile="1395551239"), "PH02"),
    Case("PH02 not for 1349 satellite", setp("applicant", mobile="13495551239"), "PH02", present=False),
    Case("PH02 not for virtual 170", setp("applicant", mobile="17095551239"), "PH02", present=False),
    Case("PH02 not for +86 form", setp("applicant", mobile="+86 139 5551 2398"), "PH02", present=False),
    Case("PH03 13800138000", setp("applicant", mobile="13800138000"), "PH03", fld="mobile"),
    Case("PH03 zero tail", setp("applicant", mobile="13900000000"), "PH03"),
    Case("PH04 Beijing 7 digits", setp("applicant", phone="010-1234567"), "PH04", fld="phone"),
    Case("PH04 not for Beijing 8 digits", setp("applicant", phone="010-62345678"), "PH04", present=False),
    Case("PH04 not for Shenzhen 8 digits", setp("applicant", phone="0755-82345678"), "PH04", present=False),
    Case("PH04 not for a 3-digit code with 7", setp("applicant", phone="0571-8234567"), "PH04", present=False),
    Case("PH04 Guangzhou 7 digits", setp("applicant", phone="020-8234567"), "PH04"),
    Case("PH05 agent's mobile", setp("applicant", mobile="13711112222"), "PH05", fld="mobile"),
    Case("PH05 not for the agent himself", setp("applicant", mobile="13711112222", name="钱多多",
                                                id_no=STAFF_ID, birth_date="1985-07-07"), "PH05", present=False),
    Case("PH07 branch phone", setp("applicant", phone="010-65550000"), "PH07", fld="phone"),
    Case("PH08 mismatch on the mobile", lambda p: None, "PH08", fld="mobile",
         extra=[("visits", {"visited_at": "2024-02-01T10:00:00", "method": "phone", "outcome": "mismatch",
                            "staff_no": "S9"})]),
    Case("PH08 not for success", lambda p: None, "PH08", present=False,
         extra=[("visits", {"visited_at": "2024-02-01T10:00:00", "method": "phone", "outcome": "success",
                            "staff_no": "S9"})]),
    Case("AD01 empty", setp("applicant", address=None), "AD01", fld="address"),
    Case("AD02 同上", setp("applicant", address="同上"), "AD02", fld="address"),
    Case("AD03 ends in 路", setp("applicant", address="北京市朝阳区建国路"), "AD03", fld="address"),
    Case("AD03 too short", setp("applicant", address="朝阳区5号"), "AD03"),
    Case("AD03 not for a rural address without number", setp("applicant", address="河北省保定市清苑区东闾乡南王村"),
         "AD03", present=False),
    Case("AD04 branch address", setp("applicant", address="北京市东城区东长安街10号营业厅"), "AD04", fld="address"),
    Case("AD04 near copy of an outlet", setp("applicant", address="北京市东城区东长安街10号营业大厅"), "AD04"),
    Case("AD04 a copy of a partner's address", setp("applicant", address=NINGXIA + "965号幸福小区26栋1单元2504室"),
         "AD04"),
    Case("AD04 a room added to a partner's address",
         setp("applicant", address=NINGXIA + "965号幸福小区26栋1单元2504室9号"), "AD04"),
    Case("AD04 not for another house, building and room on the partner's road and estate",
         setp("applicant", address=NINGXIA + "487号幸福小区27栋2单元602室"), "AD04", present=False),
    Case("AD04 outlet wording", setp("applicant", address="北京市西城区金融街邮政支局3号"), "AD04"),
    Case("AD06 postcode of another province", setp("applicant", postcode="510000"), "AD06", fld="postcode"),
    Case("AD06 not 6 digits", setp("applicant", postcode="1000"), "AD06"),
    Case("EM01 invalid", setp("applicant", email="a..b@example"), "EM01", fld="email"),
    Case("EM01 not for a valid address", setp("applicant", email="Zhang.Wei+1@mail.example.cn"), "EM01",
         present=False),
    Case("SC01 contact change without request", lambda p: None, "SC01", fld="mobile",
         extra=[mobile_change(request_no=None)]),
    Case("SC01 not with a request", lambda p: None, "SC01", present=False, extra=[mobile_change(request_no="R1")]),
    Case("SC02 beneficiary is staff", add_ben(name="钱多多", id_no=STAFF_ID, birth_date="1985-07-07"), "SC02",
         "beneficiary", "id_no"),
    Case("SC02 beneficiary by name + birth", add_ben(name="钱多多", id_no=None, birth_date="1985-07-07",
                                                     id_type="passport"), "SC02", "beneficiary", "name"),
    Case("SC03 agent left before", setpol(agent_no="S2"), "SC03", "policy", "agent_no"),
    Case("SC03 blacklisted agent", setpol(agent_no="S3"), "SC03", "policy", "agent_no"),
    Case("SC03 not for a current agent", lambda p: None, "SC03", "policy", present=False),
    Case("SC04 no insured", lambda p: p.update(insured=None), "SC04", "policy", "role"),
]

# Cross-policy groups: (label, policies as list of mutations, check, index of policies expected, present)
SHARED = "13966660000"
OWNED = rid("110105", "1970-01-01", 31)  # a man's number


def group_cases() -> list[tuple[str, list[Callable], str, list[int], bool]]:
    addr = "上海市浦东新区世纪大道1000号2201室"
    return [
        ("PH06 three strangers share a mobile", [setp("applicant", mobile=SHARED)] * 3, "PH06", [0, 1, 2], True),
        ("PH06 not for a family sharing one phone",
         [setp("applicant", mobile="13966660001", name=n, address=addr) for n in ("王大", "王二", "王三")],
         "PH06", [0, 1, 2], False),
        ("PH06 not for spouses linked on policies",
         [setp("applicant", mobile="13966660002", name="王大", address=addr),
          both(setp("applicant", mobile="13966660002", name="李花", address="上海市黄浦区南京路1号"),
               setp("insured", relation="spouse", name="王大", birth_date="1980-05-01", gender="M")),
          setp("applicant", mobile="13966660002", name="王二", address=addr)], "PH06", [0, 1, 2], False),
        ("AD05 three strangers share an address", [setp("applicant", address=addr)] * 3, "AD05", [0, 1, 2], True),
        ("EM02 three strangers share an e-mail", [setp("applicant", email="shared@example.com")] * 3, "EM02",
         [0, 1, 2], True),
        ("ID09 one number, two names",
         [setp("applicant", id_no=rid("110105", "1970-01-01", 21), birth_date="1970-01-01", name="周同名")] * 2
         + [setp("applicant", id_no=rid("110105", "1970-01-01", 21), birth_date="1970-01-01", name="冒名顶替")],
         "ID09", [0, 1, 2], True),
        ("ID09 an impostor's two policies and the owner's one",
         [setp("applicant", id_no=OWNED, birth_date="1970-01-01", name="周本人", gender="M")]
         + [both(setp("applicant", id_no=OWNED, birth_date="1985-06-06", name="吴冒用", gender="F"),
                 setpol(applied_on=f"2024-0{k}-10")) for k in (2, 3)],
         "ID09", [0, 1, 2], True),
    ]


@dataclass
class Built:
    findings: set
    policies: dict  # case name -> policy numbers
    details: dict  # (check, policy_no, role, seq, field) -> detail


# one worker builds the module's fixture (pytest-xdist --dist loadgroup)
pytestmark = pytest.mark.xdist_group("test_checks_catalogue")

@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Built:
    root = tmp_path_factory.mktemp("catalogue")
    policies, parties, visits, changes = [], [], [], []
    names: dict[str, list[str]] = {}
    i = 0

    def emit(p):
        policies.append(p["policy"])
        for role in ("applicant", "insured"):
            if p[role] is not None:
                parties.append({**p[role], "policy_no": p["policy"]["policy_no"]})
        for b in p["beneficiaries"]:
            parties.append({**b, "policy_no": p["policy"]["policy_no"]})

    for case in CASES:
        i += 1
        p = base(i)
        case.mutate(p)
        emit(p)
        names[case.name] = [p["policy"]["policy_no"]]
        for table, r in case.extra:
            r = {**r, "policy_no": p["policy"]["policy_no"]}
            if table == "visits":
                r["contact"] = p["applicant"]["mobile"]
                visits.append(r)
            else:
                changes.append(r)
    for label, muts, *_ in group_cases():
        names[label] = []
        for m in muts:
            i += 1
            p = base(i)
            m(p)
            emit(p)
            names[label].append(p["policy"]["policy_no"])
    staff = [
        {"staff_no": "S1", "name": "钱多多", "gender": "M", "id_type": "resident_id", "id_no": STAFF_ID,
         "mobile": "13711112222", "branch_code": "B1", "position": "agent", "hired_on": "2015-01-01"},
        {"staff_no": "S2", "name": "孙离职", "branch_code": "B1", "position": "agent", "left_on": "2023-06-30"},
        {"staff_no": "S3", "name": "周黑名", "branch_code": "B1", "position": "agent"},
        {"staff_no": "S9", "name": "运营甲", "branch_code": "B1", "position": "operations"},
    ]
    branches = [{"branch_code": "B1", "name": "北京分公司", "level": "province",
                 "address": "北京市东城区东长安街10号营业厅", "phone": "010-65550000"}]
    partners = [{"partner_code": "N1", "name": "中宁县某网点", "kind": "bank", "branch_code": "B1",
                 "status": "active", "address": NINGXIA + "965号幸福小区26栋1单元2504室"}]
    write_snapshot(root, {"policies": policies, "parties": parties, "staff": staff, "branches": branches,
                          "partners": partners, "visits": visits, "changes": changes,
                          "blacklist": [{"staff_no": "S3", "id_no": None, "name": "周黑名"}]})
    table = run_checks(root, settings=CheckSettings(as_of=AS_OF))
    assert table.schema.equals(FINDING_SCHEMA)
    rows = table.to_pylist()
    found = {(r["check"], r["policy_no"], r["role"], r["seq"], r["field"]) for r in rows}
    details = {(r["check"], r["policy_no"], r["role"], r["seq"], r["field"]): r["detail"] for r in rows}
    return Built(found, names, details)


def _codes_for(built: Built, policy_no: str, role: str) -> set[tuple[str, str]]:
    return {(c, f) for c, p, r, _, f in built.findings if p == policy_no and r == role}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_check(built, case):
    (policy_no,) = built.policies[case.name]
    got = _codes_for(built, policy_no, case.role)
    codes = {c for c, _ in got}
    if case.present:
        assert case.check in codes, f"{case.check} expected on {case.role}, got {sorted(got)}"
        if case.fld:
            assert (case.check, case.fld) in got
    else:
        assert case.check not in codes, f"{case.check} not expected, got {sorted(got)}"


@pytest.mark.parametrize("group", group_cases(), ids=[g[0] for g in group_cases()])
def test_cross_record(built, group):
    label, _, code, expected, present = group
    pols = built.policies[label]
    for k, pno in enumerate(pols):
        has = code in {c for c, _ in _codes_for(built, pno, "applicant")}
        assert has == (present and k in expected), (label, k, pno)


def test_clean_policy_has_no_findings(built):
    """The base policy itself passes every check (so each positive case is caused by its mutation)."""
    (pno,) = built.policies["SC03 not for a current agent"]
    assert _codes_for(built, pno, "applicant") == set()
    assert _codes_for(built, pno, "insured") == set()
    assert _codes_for(built, pno, "policy") == set()


def test_every_check_has_a_positive_case():
    covered = {c.check for c in CASES if c.present} | {g[2] for g in group_cases() if g[4]}
    assert covered == set(BY_CODE), set(BY_CODE) - covered


def test_catalogue_shape():
    assert [c.code for c in CATALOGUE] == sorted(BY_CODE, key=lambda c: [x.code for x in CATALOGUE].index(c))
    for c in CATALOGUE:
        assert c.category in ("missing", "false", "suspicious")
        assert c.severity in ("high", "medium", "low")
        assert c.message_zh and c.message_en and c.basis and c.fields


def test_settings_disable_and_threshold(tmp_path):
    s = CheckSettings(enabled=frozenset({"PH06"}), params={"PH06": {"min_applicants": 4}})
    assert s.param("PH06", "min_applicants") == 4
    assert s.fingerprint() != CheckSettings().fingerprint()
    assert s.as_dict()["params"]["PH06"] == {"min_applicants": 4}


def test_id09_ranks_the_owner_first_when_the_impostor_is_the_majority(built):
    """The owner's row (the ID's own birth date and sex, the earliest policy) ranks 1 of 2; the
    impostor's two rows rank 2 — every row is flagged, the detail says which is likely wrong."""
    owner, *impostor = built.policies["ID09 an impostor's two policies and the owner's one"]
    assert built.details["ID09", owner, "applicant", 1, "id_no"] == "rank=1/2 birth=1 sex=1 earliest=1 rows=1"
    for pno in impostor:
        assert built.details["ID09", pno, "applicant", 1, "id_no"] == "rank=2/2 birth=0 sex=0 earliest=0 rows=2"
    # where birth date, sex and the first policy agree for both, the variant on more rows ranks first
    first, _, other = built.policies["ID09 one number, two names"]
    assert built.details["ID09", first, "applicant", 1, "id_no"] == "rank=1/2 birth=1 sex=1 earliest=1 rows=2"
    assert built.details["ID09", other, "applicant", 1, "id_no"] == "rank=2/2 birth=1 sex=1 earliest=1 rows=1"
    # the other checks say nothing more than their message
    assert {d for (c, *_), d in built.details.items() if c != "ID09"} == {None}
