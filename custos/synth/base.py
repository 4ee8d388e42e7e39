"""Low-level generators shared by the book setup and the chunk workers: dates, ID numbers, phones,
names, addresses. Everything takes a `random.Random`; nothing does I/O."""

from __future__ import annotations

import datetime
from bisect import bisect
from itertools import accumulate

from custos.synth import words
from custos.synth.places import PLACES, POSTCODE_PREFIX, County, Prefecture, Province


def ri(rng, a: int, b: int) -> int:
    """Random integer in [a, b]: Random.randint without its argument checks (hot path)."""
    return a + int(rng.random() * (b - a + 1))


def pk(rng, seq):
    """Random element: Random.choice without its checks (hot path)."""
    return seq[int(rng.random() * len(seq))]


# --- dates as ordinals -------------------------------------------------------------------------
D0 = datetime.date(1900, 1, 1).toordinal()
D_END = datetime.date(2050, 12, 31).toordinal()
_days = [datetime.date.fromordinal(o) for o in range(D0, D_END + 1)]
DATES = [d.isoformat() for d in _days]  # DATES[o - D0] = "YYYY-MM-DD"
ID_DATES = [d.strftime("%Y%m%d") for d in _days]
YEARS = [d.year for d in _days]
del _days
START = datetime.date(2010, 1, 1).toordinal()  # first application date
END = datetime.date(2025, 12, 15).toordinal()  # last application date
BOOK_END = datetime.date(2025, 12, 31).toordinal()  # nothing happens after this (changes, visits)
YEAR = 365.2425


def ordinal(y: int, m: int = 1, d: int = 1) -> int:
    return datetime.date(y, m, d).toordinal()


def iso(o: int) -> str:
    return DATES[o - D0]


def age(birth: int, at: int) -> int:
    """Completed years, exact."""
    b = datetime.date.fromordinal(birth)
    a = datetime.date.fromordinal(at)
    return a.year - b.year - ((a.month, a.day) < (b.month, b.day))


# --- weighted picks ----------------------------------------------------------------------------
class Picker:
    """Weighted choice by bisect over cumulative weights (faster than Random.choices for k=1)."""

    __slots__ = ("items", "cum", "total")

    def __init__(self, pairs):
        pairs = list(pairs)
        self.items = [p[0] for p in pairs]
        self.cum = list(accumulate(p[1] for p in pairs))
        self.total = self.cum[-1]

    def __call__(self, rng):
        return self.items[bisect(self.cum, rng.random() * self.total)]


# --- resident ID numbers (GB 11643) ------------------------------------------------------------
_W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"
_SUM_DATE = [sum(int(c) * w for c, w in zip(s, _W[6:14], strict=True)) for s in ID_DATES]
_SUM_SEQ = [sum(int(c) * w for c, w in zip(f"{q:03d}", _W[14:], strict=True)) for q in range(1000)]
_SUM_CODE: dict[str, int] = {}


def code_sum(code6: str) -> int:
    s = _SUM_CODE.get(code6)
    if s is None:
        s = _SUM_CODE[code6] = sum(int(c) * w for c, w in zip(code6, _W[:6], strict=True))
    return s


def check_digit(id17: str) -> str:
    return CHECK[sum(int(c) * w for c, w in zip(id17, _W, strict=True)) % 11]


def resident_id(code6: str, birth: int, seq: int) -> str:
    return f"{code6}{ID_DATES[birth - D0]}{seq:03d}{CHECK[(code_sum(code6) + _SUM_DATE[birth - D0] + _SUM_SEQ[seq]) % 11]}"


PARTITIONS = 50  # seq // 2 == 50 * j + partition: partition 0 = staff, 1..49 = chunks


def id_seq(rng, partition: int, male: bool) -> int:
    j = ri(rng, 1 if partition == 0 else 0, (10) - 1)
    return 2 * (PARTITIONS * j + partition) + (1 if male else 0)


# --- phones ------------------------------------------------------------------------------------
SEGMENT = Picker(zip(words.MOBILE_SEGMENTS, words.MOBILE_WEIGHTS, strict=True))
_K = 7919
_SAME4 = {int(str(d) * 4) for d in range(10)}


def mobile_suffix(rng, partition: int) -> int:
    """8-digit subscriber part. Staff (partition 0) and each chunk (1..49) draw from disjoint sets:
    (first 6 digits * 7919 + last 2 digits) % 50 is the partition, invisible in the number."""
    while True:
        h = int(rng.random() * (1_000_000))
        s = h * 100 + (partition - h * _K) % 50 + 50 * int(rng.random() * (2))
        if s % 10000 not in _SAME4:
            return s


def fixed_subscriber(rng, digits: int, outlet: bool) -> int:
    """Fixed-line number without area code; outlets/branches ((h * 7919 + l) % 7 == 0) never
    share a number with customers."""
    while True:
        h = ri(rng, 200_000, (1_000_000) - 1) if digits == 8 else ri(rng, 20_000, (100_000) - 1)
        r = (-h * _K) % 7
        if not outlet:
            r = (r + ri(rng, 1, (7) - 1)) % 7
        s = h * 100 + r + 7 * int(rng.random() * (14))
        if s % 10000 not in _SAME4:
            return s


def fixed_line(rng, area_code: str, outlet: bool = False) -> str:
    digits = 8 if len(area_code) == 2 or rng.random() < 0.85 else 7
    return f"0{area_code}-{fixed_subscriber(rng, digits, outlet)}"


# --- names -------------------------------------------------------------------------------------
SURNAME = Picker(words.SURNAMES)
SURNAMES_PLAIN = [s for s, _ in words.SURNAMES]


def given_name(rng, male: bool) -> str:
    chars = words.GIVEN_M if male else words.GIVEN_F
    if rng.random() < 0.22:
        return chars[int(rng.random() * (len(chars)))]
    a = chars[int(rng.random() * (len(chars)))]
    b = a if rng.random() < 0.04 else chars[int(rng.random() * (len(chars)))]
    return a + b


def han_name(rng, surname: str, male: bool) -> str:
    g = given_name(rng, male)
    while g == surname or surname[-1] in g:  # never 林林林 (NM02) nor 王王
        g = given_name(rng, male)
    return surname + g


def minority_name(rng, prov: str, male: bool) -> str | None:
    """A Uyghur (with the middle dot) or Tibetan name for people of Xinjiang/Tibet, else None."""
    if prov == "65" and rng.random() < 0.45:
        own = pk(rng, words.UYGHUR_M if male else words.UYGHUR_F)
        father = pk(rng, words.UYGHUR_M)
        while father == own:
            father = pk(rng, words.UYGHUR_M)
        return f"{own}·{father}"
    if prov == "54" and rng.random() < 0.7:
        a = pk(rng, words.TIBETAN_M)
        b = pk(rng, words.TIBETAN_M if male else words.TIBETAN_F)
        while b == a:
            b = pk(rng, words.TIBETAN_M if male else words.TIBETAN_F)
        return a + b
    return None


def homophone(name: str, rng) -> str:
    """The name as a clerk might mistype it from speech: one character replaced by a homophone."""
    for i, ch in enumerate(name):
        alt = words.HOMOPHONES.get(ch)
        if alt and alt not in name:
            return name[:i] + alt + name[i + 1 :]
    chars = words.GIVEN_M + words.GIVEN_F
    alt = chars[int(rng.random() * (len(chars)))]
    while alt in name:
        alt = chars[int(rng.random() * (len(chars)))]
    return name[:-1] + alt


# --- places and addresses ----------------------------------------------------------------------
def short_province(name: str) -> str:
    for suffix in ("壮族自治区", "回族自治区", "维吾尔自治区", "自治区", "省", "市"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def short_place(name: str) -> str:
    if len(name) > 2 and name[-1] in "区县市旗":
        return name[:-1]
    return name


class Place:
    """A current county with everything an address or a phone in it needs."""

    __slots__ = ("county", "pref", "prov", "prefix", "area_code", "postcode", "rural", "id_codes")

    def __init__(self, county: County, pref: Prefecture, prov: Province, index: int):
        self.county = county
        self.pref = pref
        self.prov = prov
        self.prefix = prov.name + county.name if prov.municipality else prov.name + pref.name + county.name
        self.area_code = pref.area_code
        pp = POSTCODE_PREFIX[prov.code]
        pos = prov.prefectures.index(pref)
        self.postcode = f"{pp[pos % len(pp)]}{pos % 10}{index % 10}"  # + 2 digits per address
        self.rural = county.rural
        # (code, first year, last year) of every code of the prefecture, for ID numbers
        self.id_codes = [(c.code, c.start, c.end) for c in pref.all_codes]


PLACE_LIST: list[Place] = []
for _prov in PLACES.provinces.values():
    for _pref in _prov.prefectures:
        for _i, _c in enumerate(_pref.counties):
            PLACE_LIST.append(Place(_c, _pref, _prov, _i))
PLACE_BY_CODE = {p.county.code: p for p in PLACE_LIST}
_pref_sizes: dict[str, int] = {}
for _p in PLACE_LIST:
    _pref_sizes[_p.pref.code] = _pref_sizes.get(_p.pref.code, 0) + 1
# Anyone in China, weighted by province population spread over its counties.
ANY_PLACE = Picker(
    (p, p.prov.weight / len(p.prov.prefectures) / _pref_sizes[p.pref.code]) for p in PLACE_LIST
)
NUMERALS = set("0123456789一二三四五六七八九十")


def street(rng, no_numerals: bool = False) -> str:
    while True:
        stem = words.STREET_STEMS[int(rng.random() * (len(words.STREET_STEMS)))]
        if not (no_numerals and NUMERALS & set(stem)):
            break
    return stem + words.STREET_DIR[int(rng.random() * (len(words.STREET_DIR)))] + pk(rng, words.STREET_SUFFIX)


def address(rng, place: Place) -> tuple[str, str, str]:
    """(address, postcode, street) of a home: street, number, building and room, or village."""
    r = rng.random()
    if place.rural and r < 0.6:
        town = words.TOWN_STEMS[int(rng.random() * (len(words.TOWN_STEMS)))]
        village = words.VILLAGE_STEMS[int(rng.random() * (len(words.VILLAGE_STEMS)))]
        a = f"{place.prefix}{town}镇{village}村{ri(rng, 1, 15)}组{ri(rng, 1, 199)}号"
        return a, place.postcode + "00", ""
    st = street(rng)
    no = ri(rng, 1, 999)
    if r < 0.45 or (place.rural and r < 0.75):
        a = f"{place.prefix}{st}{no}号{ri(rng, 1, 30)}栋{ri(rng, 1, 28)}{ri(rng, 1, 8):02d}房"
    elif r < 0.85:
        comm = words.COMMUNITIES[int(rng.random() * (len(words.COMMUNITIES)))]
        a = f"{place.prefix}{st}{no}号{comm}{ri(rng, 1, 20)}栋{ri(rng, 1, 4)}单元{ri(rng, 1, 33)}{ri(rng, 1, 6):02d}室"
    else:
        a = f"{place.prefix}{st}{no}号{ri(rng, 1, 12)}{ri(rng, 1, 4):02d}室"
    return a, f"{place.postcode}{ri(rng, 0, (10) - 1)}0", st


def outlet_address(rng, place: Place) -> tuple[str, str, str]:
    st = street(rng)
    return f"{place.prefix}{st}{ri(rng, 1, 500)}号", place.postcode + "00", st


def jaccard(a: str, b: str) -> float:
    sa, sb = set(a), set(b)
    return len(sa & sb) / len(sa | sb)


def email(rng, mobile: str) -> str:
    dom = EMAIL_DOMAIN(rng)
    if dom == "qq.com":
        return f"{ri(rng, 10000, 3999999999)}@qq.com"
    if dom == "139.com" and mobile:
        return f"{mobile}@139.com"
    letters = "".join(pk(rng, words.LETTERS) for _ in range(ri(rng, 3, 8)))
    return f"{letters}{ri(rng, 1, 9999)}@{dom if dom != '139.com' else '163.com'}"


EMAIL_DOMAIN = Picker(words.EMAIL_DOMAINS)
