"""GB2260 places for the generator, parsed from python-stdnum's `stdnum/cn/loc.dat`.

The table lists every address code since 1980 with its validity years (``[1983-2005]东山区``).
A code is *current* when its last name has no end year. Addresses use current names; resident ID
numbers use any code that was valid in the person's birth year (so older people carry retired codes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import stdnum

LOC_DAT = Path(stdnum.__file__).parent / "cn" / "loc.dat"
AREA_CODES = Path(__file__).parent / "data" / "area_codes.tsv"

_SEG = re.compile(r"^\[(\d*)-(\d*)\](.*)$")

# 2020 census population, millions: weights for where customers and branches are.
POPULATION = {
    "44": 126, "37": 102, "41": 99, "32": 85, "51": 84, "13": 75, "43": 66, "33": 65, "34": 61,
    "42": 58, "45": 50, "53": 47, "36": 45, "21": 43, "35": 41, "61": 40, "52": 39, "14": 35,
    "50": 32, "23": 32, "65": 26, "62": 25, "31": 25, "15": 24, "22": 24, "11": 22, "12": 14,
    "46": 10, "64": 7, "63": 6, "54": 4,
}  # fmt: skip
# First two digits of postcodes (邮政编码) by province.
POSTCODE_PREFIX = {
    "11": ("10",), "12": ("30",), "13": ("05", "06", "07"), "14": ("03", "04"), "15": ("01", "02"),
    "21": ("11", "12"), "22": ("13",), "23": ("15", "16"), "31": ("20",), "32": ("21", "22"),
    "33": ("31", "32"), "34": ("23", "24"), "35": ("35", "36"), "36": ("33", "34"),
    "37": ("25", "26", "27"), "41": ("45", "46", "47"), "42": ("43", "44"), "43": ("41", "42"),
    "44": ("51", "52"), "45": ("53", "54"), "46": ("57",), "50": ("40",), "51": ("61", "62", "63", "64"),
    "52": ("55", "56"), "53": ("65", "66", "67"), "54": ("85",), "61": ("71", "72"), "62": ("73", "74"),
    "63": ("81",), "64": ("75",), "65": ("83", "84"),
}  # fmt: skip
MUNICIPALITIES = ("11", "12", "31", "50")
_SKIP_COUNTY = ("市辖区", "县", "市区", "郊区", "矿区")


@dataclass
class County:
    code: str
    name: str
    start: int  # first year valid (0 = before 1980)
    end: int  # last year valid (9999 = current)

    @property
    def current(self) -> bool:
        return self.end == 9999

    @property
    def rural(self) -> bool:
        return self.name.endswith(("县", "旗"))


@dataclass
class Prefecture:
    code: str  # 4 digits
    name: str  # 广州市; for municipalities the province name (北京市)
    counties: list[County] = field(default_factory=list)  # current, usable in addresses
    all_codes: list[County] = field(default_factory=list)  # every county code, current or retired
    area_code: str = ""


@dataclass
class Province:
    code: str
    name: str
    prefectures: list[Prefecture] = field(default_factory=list)
    weight: int = 0

    @property
    def municipality(self) -> bool:
        return self.code in MUNICIPALITIES


def _segments(value: str) -> list[tuple[int, int, str]]:
    out = []
    for part in value.split(","):
        m = _SEG.match(part)
        if m:
            out.append((int(m.group(1) or 0), int(m.group(2) or 9999), m.group(3)))
        else:
            out.append((0, 9999, part))
    return out


class Places:
    """All of GB2260 with the current hierarchy (only provinces with postcode data are kept)."""

    def __init__(self, path: Path = LOC_DAT):
        self.provinces: dict[str, Province] = {}
        self.all_codes: set[str] = set()  # every 6-digit code ever listed (incl. XX0000, XXXX00)
        prefectures: dict[str, Prefecture] = {}
        raw: list[tuple[str, list[tuple[int, int, str]]]] = []
        province = None
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line or line.startswith("#"):
                continue
            if not line.startswith(" "):
                code, rest = line.split(" ", 1)
                name = rest.split('"')[1]
                province = code
                if code in POSTCODE_PREFIX:
                    self.provinces[code] = Province(code, name, weight=POPULATION[code])
                continue
            sub, rest = line.strip().split(" ", 1)
            code6 = province + sub
            self.all_codes.add(code6)
            if province in self.provinces:
                raw.append((code6, _segments(rest.split('"')[1])))
        for code6, segs in raw:
            if code6[2:] == "0000" or code6[4:] != "00":
                continue
            start, end, name = segs[-1]
            prov = self.provinces[code6[:2]]
            if end != 9999 or "直辖" in name or name == "县":
                continue
            if name == "市辖区":
                if not prov.municipality:
                    continue
                name = prov.name
            pref = Prefecture(code6[:4], name)
            prefectures[code6[:4]] = pref
            prov.prefectures.append(pref)
        # Municipalities: counties listed under XX02 (县) belong to the one prefecture XX01.
        for code6, segs in raw:
            if code6[4:] == "00":
                continue
            key = code6[:4]
            if code6[:2] in MUNICIPALITIES:
                key = code6[:2] + "01"
            pref = prefectures.get(key)
            if pref is None:
                continue
            first_start = segs[0][0]
            start, end, name = segs[-1]
            county = County(code6, name, first_start, end)
            if not name.endswith(("区", "县", "市", "旗")) or "办事处" in name:
                pref.all_codes.append(County(code6, name, first_start, end))
                continue
            pref.all_codes.append(county)
            if end == 9999 and name not in _SKIP_COUNTY and start <= 2019:
                pref.counties.append(county)
        for prov in self.provinces.values():
            prov.prefectures = [p for p in prov.prefectures if p.counties]
        area = {}
        if AREA_CODES.exists():
            for line in AREA_CODES.read_text(encoding="utf-8").splitlines():
                code4, _, ac = line.split("\t")
                area[code4] = ac
        for prov in self.provinces.values():
            capital = area.get(prov.prefectures[0].code, "10")
            for pref in prov.prefectures:
                pref.area_code = area.get(pref.code, capital)

    @cached_property
    def retired_codes(self) -> list[County]:
        return [c for p in self.prefectures for c in p.all_codes if not c.current]

    @cached_property
    def prefectures(self) -> list[Prefecture]:
        return [p for prov in self.provinces.values() for p in prov.prefectures]


PLACES = Places()
