"""One chunk of policies: families, policies, parties, changes, visits and the injected defects.

A chunk is generated from its own `random.Random` (seeded from the book seed and the chunk index),
so the book is the same bytes whatever the number of worker processes.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

from custos.synth import base, words
from custos.synth.base import END, START, YEAR, Picker, iso, pk, ri
from custos.synth.org import Org, Outlet, Staff
from custos.synth.places import PLACES
from custos.synth.places import POSTCODE_PREFIX as _PC
from custos.synth.rates import (
    CHANNELS,
    CHECKS,
    FALSE_BY_CHANNEL,
    FALSE_KINDS,
    MISSING_KINDS,
    RING_KINDS,
    SUSPICIOUS_KINDS,
    DefectRates,
)

CHUNK = 25_000
# parties columns
POL, ROLE, SEQ, REL, NAME, GENDER, BIRTH, IDTYPE, IDNO, VALID, NAT, MOB, PHONE, ADDR, PC, EMAIL, OCC = range(
    17
)
FIELD = {
    REL: "relation", NAME: "name", GENDER: "gender", BIRTH: "birth_date", IDTYPE: "id_type",
    IDNO: "id_no", VALID: "id_valid_until", MOB: "mobile", PHONE: "phone", ADDR: "address",
    PC: "postcode", EMAIL: "email", OCC: "occupation_code",
}  # fmt: skip
VARIANT_KINDS = ("XC01", "XC02", "XC03", "ID09")  # need a person who appeared on an earlier policy
NEEDS_AGENT = ("PH05", "SC02", "SC03")
GENDERED = {
    "father", "mother", "son", "daughter", "grandfather", "grandmother", "grandson", "granddaughter",
    "elder_brother", "younger_brother", "elder_sister", "younger_sister", "father_in_law",
    "mother_in_law", "son_in_law", "daughter_in_law",
}  # fmt: skip
AGE_SWAP = {
    "father": "son", "son": "father", "mother": "daughter", "daughter": "mother", "grandfather": "grandson",
    "grandson": "grandfather", "grandmother": "granddaughter", "granddaughter": "grandmother",
    "elder_brother": "younger_brother", "younger_brother": "elder_brother", "elder_sister": "younger_sister",
    "younger_sister": "elder_sister",
}  # fmt: skip
GENDER_SWAP = {
    "father": "mother", "mother": "father", "son": "daughter", "daughter": "son", "grandfather": "grandmother",
    "grandmother": "grandfather", "grandson": "granddaughter", "granddaughter": "grandson",
    "elder_brother": "elder_sister", "elder_sister": "elder_brother", "younger_brother": "younger_sister",
    "younger_sister": "younger_brother", "father_in_law": "mother_in_law", "mother_in_law": "father_in_law",
    "son_in_law": "daughter_in_law", "daughter_in_law": "son_in_law",
}  # fmt: skip
NAME_PLACEHOLDERS = ("客户", "测试", "不详", "某某", "未知", "XXX", "test", "先生", "女士")
ADDR_PLACEHOLDERS = ("无", "不详", "同上", "见上", "未知", "暂无", "XXXXXX", "某某某某某某")
MOBILE_PLACEHOLDERS = ("13800138000", "13000000000", "13900000000", "15000000000", "18000000000")
NEEDS_RESIDENT = {
    **{k: (lambda p, rows: True) for k in ("ID02", "ID03", "ID04", "ID05", "ID06", "ID08", "ID11", "ID12")},
    "ID07": lambda p, rows: all(r[REL] not in GENDERED for q, r in rows if q is p),
    "ID10": lambda p, rows: base.YEARS[p.birth - base.D0] < 2000,
}
PREFIX = {"bancassurance": "B", "agency": "A", "group": "G", "internet": "W", "telesales": "T", "broker": "K"}
INSURED_KIN = {
    "agency": (("A", 45), ("S", 15), ("C", 30), ("F", 5), ("M", 5)),
    "bancassurance": (("A", 70), ("S", 15), ("C", 5), ("F", 5), ("M", 5)),
    "internet": (("A", 75), ("S", 10), ("C", 10), ("F", 3), ("M", 2)),
    "telesales": (("A", 75), ("S", 12), ("C", 8), ("F", 3), ("M", 2)),
    "broker": (("A", 55), ("S", 15), ("C", 25), ("F", 3), ("M", 2)),
}
APP_AGE = {
    "bancassurance": (28, 68),
    "agency": (24, 58),
    "internet": (20, 45),
    "telesales": (25, 60),
    "broker": (26, 60),
    "group": (30, 60),
}
N_KIDS = Picker(((0, 15), (1, 50), (2, 30), (3, 5)))
N_BEN = Picker(((0, 50), (1, 32), (2, 14), (3, 4)))
STATUS = Picker((("in_force", 82), ("lapsed", 6), ("surrendered", 10), ("terminated", 2)))
METHOD = Picker((("phone", 80), ("sms", 8), ("wechat", 7), ("onsite", 3), ("letter", 2)))
OUTCOME = Picker((("success", 90), ("no_answer", 7), ("refused", 3)))
INSURED_PICK = {c: Picker(w) for c, w in INSURED_KIN.items()}
_CODES_CACHE: dict = {}
PRODUCTS = {c: [p for p in words.PRODUCTS if c in p[2]] for c in CHANNELS}


class Member:
    __slots__ = ("kin", "male", "birth", "person", "surname")

    def __init__(self, kin, male, birth, surname):
        self.kin, self.male, self.birth, self.surname = kin, male, birth, surname
        self.person = None


class Person:
    __slots__ = (
        "uid",
        "name",
        "gender",
        "birth",
        "id_type",
        "id_no",
        "valid",
        "nat",
        "mobile",
        "phone",
        "addr",
        "pc",
        "email",
        "occ",
        "rows",
        "staff",
        "renamed",
    )

    def values(self) -> list:
        return [
            "",
            "",
            "",
            "",
            self.name,
            self.gender,
            iso(self.birth) if self.birth else "",
            self.id_type,
            self.id_no,
            self.valid,
            self.nat,
            self.mobile,
            self.phone,
            self.addr,
            self.pc,
            self.email,
            self.occ,
        ]


class Family:
    __slots__ = ("members", "place", "addr", "pc", "street", "phone", "outlet", "last", "uses", "app")

    def member(self, kin):
        for m in self.members:
            if m.kin == kin:
                return m
        return None


def relation(base_: Member, other: Member) -> str:
    """What `other` is to `base_` (the relation code of `other`'s row)."""
    b, o = base_.kin, other.kin
    if b == o == "C":
        if other.birth < base_.birth:
            return "elder_brother" if other.male else "elder_sister"
        return "younger_brother" if other.male else "younger_sister"
    if b == "A":
        return {"S": "spouse", "F": "father", "M": "mother"}.get(o) or ("son" if other.male else "daughter")
    if b == "S":
        return {"A": "spouse", "F": "father_in_law", "M": "mother_in_law"}.get(o) or (
            "son" if other.male else "daughter"
        )
    if b == "C":
        if o in ("A", "S"):
            return "father" if other.male else "mother"
        return "grandfather" if o == "F" else "grandmother"
    # b in F, M: the applicant's parents
    if o in ("F", "M"):
        return "spouse"
    if o == "A":
        return "son" if other.male else "daughter"
    if o == "S":
        return "son_in_law" if other.male else "daughter_in_law"
    return "grandson" if other.male else "granddaughter"


class Chunk:
    def __init__(self, org: Org, seed: int, index: int, n: int, first: int, rates: DefectRates):
        self.org = org
        self.rng = random.Random(seed * 1_000_003 + index * 7 + 1)
        self.index = index
        self.n = n
        self.base = first  # number of the chunk's first policy in the book
        self.part = 1 + index % (base.PARTITIONS - 1)
        self.rates = rates
        self.used_ids: set[str] = set()
        self.used_mobiles: set[str] = set()
        self.used_addr: set[str] = set()
        self.used_email: set[str] = set()
        self.pool: list[Family] = []
        self.uid = 0
        self.truth: list[tuple] = []
        self.persons: list[tuple] = []
        self.agg_mobile: list[
            tuple
        ] = []  # (mobile, policy_no, person uid): applicant mobiles that may be shared
        self.agg_addr: list[tuple] = []
        self.counts = dict.fromkeys(("policies", "parties", "changes", "visits"), 0)
        self.channel = Picker(rates.channel_mix.items())
        self.missing = Picker(MISSING_KINDS.items())
        self.false = {c: Picker({**FALSE_KINDS, **FALSE_BY_CHANNEL.get(c, {})}.items()) for c in CHANNELS}
        self.susp = Picker(SUSPICIOUS_KINDS.items())
        self.forced: list[tuple[int, str]] = []
        self.retry: list[str] = []
        self.p_untrue = dict(rates.untrue)
        if index == 0 and rates.min_per_check > 0:
            self._schedule_forced()

    # --- schedule --------------------------------------------------------------------------------
    def _schedule_forced(self) -> None:
        rng, n = self.rng, self.n
        kinds = [k for k in CHECKS for _ in range(self.rates.min_per_check)]
        rng.shuffle(kinds)
        late = [k for k in kinds if k in VARIANT_KINDS]
        early = [k for k in kinds if k not in VARIANT_KINDS]
        pos_early = sorted(rng.sample(range(n), min(n, len(early))))
        lo = n // 2
        pos_late = sorted(rng.sample(range(lo, n), min(n - lo, len(late))))
        self.forced = sorted(zip(pos_early, early, strict=False)) + sorted(zip(pos_late, late, strict=False))
        self.forced.sort()
        # Forced defects count towards the rates: lower the chunk's random rate to compensate.
        mix_total = sum(self.rates.channel_mix.values())
        n_untrue = sum(1 for _, k in self.forced if k in MISSING_KINDS or k in FALSE_KINDS)
        for c in CHANNELS:
            share = self.rates.channel_mix.get(c, 0) / mix_total
            expected = self.rates.untrue.get(c, 0) * n * share
            forced_c = n_untrue * share
            self.p_untrue[c] = max(0.0, (expected - forced_c) / max(1.0, n * share))

    def _pick_kind(self, channel: str) -> str | None:
        r = self.rng.random()
        pu = self.p_untrue.get(channel, 0.0)
        if r < pu:
            if self.rng.random() < self.rates.missing_share:
                return self.missing(self.rng)
            return self.false[channel](self.rng)
        if r < pu + self.rates.suspicious.get(channel, 0.0):
            return self.susp(self.rng)
        return None

    # --- main loop -------------------------------------------------------------------------------
    def run(self, out: Path, encoding: str = "utf-8") -> dict:
        files = {
            name: open(out / f"{name}.{self.index:05d}.part", "w", encoding=encoding, newline="")  # noqa: SIM115
            for name in ("policies", "parties", "changes", "visits", "defects", "persons")
        }
        try:
            self.w = {k: csv.writer(f) for k, f in files.items()}
            self._loop()
            self.flush()
            self.w["defects"].writerows(self.truth)
        finally:
            for f in files.values():
                f.close()
        return {
            "counts": self.counts,
            "agg_mobile": self.agg_mobile,
            "agg_addr": self.agg_addr,
            "defects": [t[0] for t in self.truth],
        }

    def _loop(self) -> None:
        rng = self.rng
        i = 0
        forced = self.forced
        fi = 0
        deferred = self.retry
        while i < self.n:
            kind = None
            if deferred:
                kind = deferred.pop()
            elif fi < len(forced) and forced[fi][0] <= i:
                kind = forced[fi][1]
                fi += 1
            channel = self.channel(rng)
            if kind is None:
                kind = self._pick_kind(channel)
            if kind in RING_KINDS:
                size = 3 if rng.random() < 0.6 else 4
                if i + size > self.n:
                    kind = None
                else:
                    self._ring(kind, channel, size, i)
                    i += size
                    continue
            if kind in VARIANT_KINDS or (kind == "ID10" and rng.random() < 0.5):
                fam = self._returning(variant=True)
                if fam is None:
                    if kind != "ID10":
                        if self.n - i > 50:
                            deferred.append(kind)  # retry once the pool has families
                        kind = None
                else:
                    self._policy(i, kind, channel, fam)
                    i += 1
                    continue
            fam = None
            if kind is None and self.pool and rng.random() < 0.1:
                fam = self._returning()
            self._policy(i, kind, channel, fam)
            i += 1

    # --- families --------------------------------------------------------------------------------
    def _returning(self, variant: bool = False) -> Family | None:
        pool = self.pool
        if not pool:
            return None
        k = int(self.rng.random() * (len(pool)))
        fam = pool[k]
        fam.uses -= 1
        if fam.uses <= 0:
            pool[k] = pool[-1]
            pool.pop()
        return fam

    def _family(self, outlet: Outlet, applied: int, channel: str, need: dict) -> Family:
        rng = self.rng
        fam = Family()
        fam.outlet = outlet
        r = rng.random()
        if r < 0.6:
            place = outlet.place
        elif r < 0.92:
            place = _same_pref(outlet.place, rng)
        else:
            place = _same_prov(outlet.place, rng)
        fam.place = place
        lo, hi = need.get("app_age") or APP_AGE[channel]
        a_age = rng.uniform(lo, hi)
        a_male = rng.random() < 0.5
        a_birth = applied - int(a_age * YEAR) - ri(rng, 1, (300) - 1)
        s_a = base.SURNAME(rng)
        app = Member("A", a_male, a_birth, s_a)
        members = [app]
        married = need.get("married")
        if married is None:
            married = a_age >= 26 and rng.random() < (0.55 if a_age < 30 else 0.88)
        if married:
            if need.get("young_spouse"):
                s_age = rng.uniform(18.1, 19.0) if a_male else rng.uniform(20.1, 21.0)  # + < 1 year below
            else:
                s_age = a_age - rng.uniform(-1, 5) if a_male else a_age + rng.uniform(-1, 5)
                s_age = max(s_age, 23.0 if a_male else 25.0)
            s_sur = base.SURNAME(rng)
            while s_sur == s_a:
                s_sur = base.SURNAME(rng)
            members.append(
                Member("S", not a_male, applied - int(s_age * YEAR) - ri(rng, 1, (300) - 1), s_sur)
            )
            youngest_parent = min(a_age, s_age)
            n_kids = need["kids"] if "kids" in need else N_KIDS(rng)
            father_surname = s_a if a_male else s_sur
            if youngest_parent >= 22 and n_kids:
                max_age = youngest_parent - 21
                ages = sorted({int(rng.uniform(0, max_age)) for _ in range(n_kids)})
                for k in ages:
                    birth = applied - int(k * YEAR) - ri(rng, 40, (330) - 1)
                    members.append(Member("C", rng.random() < 0.52, birth, father_surname))
        p_par = need.get("parents", 0.5 if a_age < 55 else 0.2)
        if rng.random() < p_par:
            f_age = a_age + rng.uniform(23, 34)
            m_age = a_age + rng.uniform(21, min(32, f_age - a_age + 3))
            if f_age < 92:
                members.append(Member("F", True, applied - int(f_age * YEAR) - ri(rng, 1, (300) - 1), s_a))
                m_sur = base.SURNAME(rng)
                while m_sur == s_a:
                    m_sur = base.SURNAME(rng)
                members.append(Member("M", False, applied - int(m_age * YEAR) - ri(rng, 1, (300) - 1), m_sur))
        fam.members = members
        fam.app = app
        fam.addr, fam.pc, fam.street = self._home(place)
        fam.phone = base.fixed_line(rng, place.area_code) if rng.random() < 0.3 else ""
        fam.last = applied
        fam.uses = 0
        return fam

    def _home(self, place) -> tuple[str, str, str]:
        """A home address, unique in the chunk, never similar to an outlet's (character Jaccard
        < 0.75 against every branch and partner address of the county)."""
        rng = self.rng
        outlets = self.org.outlet_chars.get(place.county.code, ())
        used = self.used_addr
        while True:
            a, pc, st = base.address(rng, place)
            if a in used:
                continue
            if outlets:
                sa = set(a)
                if any(len(sa & o) > 0.75 * len(sa | o) for o in outlets):
                    continue
            used.add(a)
            return a, pc, st

    def _mobile(self) -> str:
        rng = self.rng
        while True:
            m = base.SEGMENT(rng) + f"{base.mobile_suffix(rng, self.part):08d}"
            if m not in self.used_mobiles:
                self.used_mobiles.add(m)
                return m

    def _email(self, mobile: str) -> str:
        while True:
            e = base.email(self.rng, mobile)
            if e not in self.used_email:
                self.used_email.add(e)
                return e

    def _id(self, place, birth: int, male: bool) -> str:
        rng = self.rng
        by = base.YEARS[birth - base.D0]
        code = place.county.code
        if place.county.start > by or rng.random() < 0.12:
            ok = _CODES_CACHE.get((place.county.code, by))
            if ok is None:
                ok = _CODES_CACHE[(place.county.code, by)] = [c for c, s, e in place.id_codes if s <= by <= e]
            if ok:
                code = ok[int(rng.random() * (len(ok)))]
        while True:
            id_no = base.resident_id(code, birth, base.id_seq(rng, self.part, male))
            if id_no not in self.used_ids:
                self.used_ids.add(id_no)
                return id_no

    def _person(self, fam: Family, m: Member, applied: int) -> Person:
        if m.person is not None:
            return m.person
        rng = self.rng
        p = Person()
        self.uid += 1
        p.uid = f"C{self.index:04d}{self.uid:07d}"
        p.rows = []
        p.staff = None
        place = fam.place
        p.name = base.minority_name(rng, place.prov.code, m.male) or base.han_name(rng, m.surname, m.male)
        p.gender = "M" if m.male else "F"
        p.birth = m.birth
        age = (applied - m.birth) / YEAR
        id_place = place if rng.random() < 0.92 else base.ANY_PLACE(rng)
        p.nat = "CHN"
        r = rng.random()
        if age < 16:
            if age < 1 and r < 0.25:
                p.id_type, p.id_no = (
                    "birth_certificate",
                    f"{pk(rng, 'OPQRST')}{ri(rng, 440000000, 659999999)}",
                )
            else:
                p.id_type, p.id_no = "household_register", self._id(id_place, m.birth, m.male)
            p.valid = ""
        elif r < 0.003:
            p.id_type, p.nat = "hk_macau_permit", pk(rng, ("HKG", "MAC"))
            p.id_no = f"{'H' if p.nat == 'HKG' else 'M'}{ri(rng, 10000000, 99999999)}{pk(rng, ('', f'{ri(rng, 0, 99):02d}'))}"
            p.valid = iso(base.ordinal(ri(rng, 2026, 2035), ri(rng, 1, 12), ri(rng, 1, 28)))
        elif r < 0.004:
            p.id_type, p.nat, p.id_no = "taiwan_permit", "TWN", f"{ri(rng, 10000000, 99999999)}"
            p.valid = iso(base.ordinal(ri(rng, 2026, 2030), ri(rng, 1, 12), ri(rng, 1, 28)))
        else:
            p.id_type, p.id_no = "resident_id", self._id(id_place, m.birth, m.male)
            age_now = (base.BOOK_END - m.birth) / YEAR
            if age_now >= 47:
                p.valid = "9999-12-31" if rng.random() < 0.75 else "长期"
            else:
                years = 10 if age_now < 26 else 20
                p.valid = iso(base.ordinal(ri(rng, 2026, 2025 + years), ri(rng, 1, 12), ri(rng, 1, 28)))
        same_home = m.kin in ("A", "S", "C") or rng.random() < 0.5
        if same_home:
            p.addr, p.pc, p.phone = fam.addr, fam.pc, fam.phone
        else:
            p.addr, p.pc, _ = self._home(place)
            p.phone = base.fixed_line(rng, place.area_code) if rng.random() < 0.4 else ""
        if age >= 18:
            p.mobile = self._mobile() if rng.random() < (0.97 if age < 70 else 0.75) or not p.phone else ""
            p.email = self._email(p.mobile) if rng.random() < (0.38 if age < 55 else 0.06) else ""
            p.occ = words.OCCUPATIONS[int(rng.random() * (len(words.OCCUPATIONS) - 1))]
        else:
            p.mobile, p.email, p.occ = "", "", words.OCCUPATIONS[-1]
        if not p.mobile and not p.phone and m.kin == "A":
            p.mobile = self._mobile()
        m.person = p
        return p

    def _staff_person(self, s: Staff) -> Person:
        p = Person()
        p.uid = f"S{s.staff_no}"
        p.rows, p.staff = [], s
        p.name, p.gender, p.birth = s.name, s.gender, s.birth
        p.id_type, p.id_no, p.nat = "resident_id", s.id_no, "CHN"
        p.valid = "9999-12-31" if (base.BOOK_END - s.birth) / YEAR >= 47 else "2036-06-30"
        p.mobile, p.phone, p.addr, p.pc, p.email, p.occ = s.mobile, "", s.address, s.postcode, "", "0001001"
        return p

    def _employer(self, place, applied: int) -> Person:
        m = Member(
            "A",
            self.rng.random() < 0.7,
            applied - int(self.rng.uniform(32, 60) * YEAR),
            base.SURNAME(self.rng),
        )
        fam = self._family_stub(place, applied)
        return self._person(fam, m, applied)

    def _family_stub(self, place, applied) -> Family:
        fam = Family()
        fam.place = place
        fam.addr, fam.pc, fam.street = self._home(place)
        fam.phone = base.fixed_line(self.rng, place.area_code) if self.rng.random() < 0.5 else ""
        return fam

    # --- agents ----------------------------------------------------------------------------------
    def _agent(self, channel: str, outlet: Outlet, applied: int) -> Staff | None:
        if channel == "internet":
            return None
        team = (
            outlet.agents
            if channel == "agency"
            else outlet.banc
            if channel == "bancassurance"
            else outlet.city.channel_staff[channel]
        )
        rng = self.rng
        for _ in range(4):
            s = team[int(rng.random() * (len(team)))]
            if s.active(applied):
                return s
        return team[0]

    # --- one policy ------------------------------------------------------------------------------
    def _policy(self, i: int, kind: str | None, channel: str, fam: Family | None, ring=None) -> None:
        rng, org = self.rng, self.org
        if kind in NEEDS_AGENT and channel == "internet":
            channel = "agency"
        if (
            kind in ("RL01", "RL02", "RL03", "RL04", "BD02", "BD03", *VARIANT_KINDS, "ID10")
            and channel == "group"
        ):
            channel = "agency"
        returning = fam is not None
        if returning:
            applied = min(END, fam.last + ri(rng, 30, 1500))
            fam.last = applied
            outlet = fam.outlet
        else:
            applied = START + int((END - START) * (rng.random() ** 0.8))
            outlet = org.outlet_pick(rng)
        need: dict = {}
        if kind == "BD02":
            applied = max(applied, base.ordinal(2023, 1, 1))
            need = {"married": True, "kids": 1, "parents": 0}
        elif kind == "BD03":
            need = {"app_age": (16.1, 17.0), "married": False, "parents": 1.0}
        elif kind == "RL04":
            need = {"app_age": (26, 34), "married": True, "young_spouse": True, "kids": 0}
        elif kind in ("RL01", "RL02", "RL03"):
            need = {"app_age": (36, 50), "married": True, "kids": ri(rng, 1, 2), "parents": 0.7}
        elif kind == "ID10":
            need = {"app_age": (32, 60)}
        if not returning:
            fam = self._family(outlet, applied, channel, need)
            if (
                kind is None
                and ring is None
                and rng.random() < self.rates.repeat_customers
                and len(self.pool) < 4000
            ):
                fam.uses = pk(rng, (1, 1, 2, 3))
                self.pool.append(fam)
        agent = self._agent(channel, outlet, applied)
        policy_no = f"{PREFIX[channel]}{base.YEARS[applied - base.D0]}{self.base + i:09d}"
        self._policy_no = policy_no
        # Who is on it.
        alive = [m for m in fam.members if m.birth < applied - 30]
        app_m = fam.app
        group = channel == "group"
        if group:
            applicant = self._employer(fam.place, applied)
            ins_m = app_m
        else:
            applicant = None
            want = need.get("insured") or ("C" if kind == "BD02" else None)
            if kind in ("RL01", "RL02", "RL03"):
                kins = ("C", "F", "M") if kind != "RL03" else ("S", "C", "F", "M")
                want = pk(rng, [m.kin for m in alive if m.kin in kins] or ["A"])
            if kind == "RL04":
                want = "S"
            if want is None:
                kin_pick = INSURED_PICK[channel]
                for _ in range(3):
                    want = kin_pick(rng)
                    if want == "A" or any(m.kin == want for m in alive):
                        break
                else:
                    want = "A"
            ins_m = app_m if want == "A" else pk(rng, [m for m in alive if m.kin == want] or [app_m])
        if kind == "BD02" and ins_m.kin == "C":
            ins_m.birth = applied + ri(rng, 10, 200)  # a child insured before being born
        elif kind == "BD02":
            app_m.birth = applied - int(rng.uniform(121, 122) * YEAR)
            ins_m = app_m
        bcands = [m for m in alive if m is not ins_m]
        if kind == "BD02" and ins_m is app_m:
            bcands = []
        if kind in ("ID07", "XC01"):
            bcands = [m for m in bcands if m is not app_m]
        n_ben = N_BEN(rng) if not group else (1 if rng.random() < 0.3 else 0)
        if kind in ("RL01", "RL02") and not n_ben and ins_m is app_m:
            n_ben = 1
        bens = rng.sample(bcands, min(n_ben, len(bcands)))
        bens.sort(key=lambda m: m.birth)
        # Rows.
        rows: list[tuple[Person, list]] = []
        if applicant is None:
            applicant = self._person(fam, app_m, applied)
        r = applicant.values()
        r[POL], r[ROLE], r[SEQ] = policy_no, "applicant", 1
        rows.append((applicant, r))
        ins_p = self._person(fam, ins_m, applied)
        r = ins_p.values()
        r[POL], r[ROLE], r[SEQ] = policy_no, "insured", 1
        r[REL] = "employee" if group else ("self" if ins_m is app_m else relation(app_m, ins_m))
        rows.append((ins_p, r))
        for k, b in enumerate(bens, 1):
            bp = self._person(fam, b, applied)
            r = bp.values()
            r[POL], r[ROLE], r[SEQ], r[REL] = policy_no, "beneficiary", k, relation(ins_m, b)
            rows.append((bp, r))
        self._rows = rows
        # Policy.
        prod = PRODUCTS[channel][int(rng.random() * (len(PRODUCTS[channel])))]
        term = pk(rng, prod[3])
        lo, hi = prod[4]
        premium = round(lo * (hi / lo) ** rng.random(), -2 if lo >= 1000 else -1)
        issued = applied + ri(rng, 1, 12)
        if term and applied + int(term * YEAR) < base.BOOK_END and rng.random() < 0.7:
            status = "matured"
        else:
            status = STATUS(rng)
        partner = ""
        if channel == "bancassurance":
            partner = outlet.partners[int(rng.random() * (len(outlet.partners)))]
        elif channel == "broker":
            partner = outlet.city.brokers[int(rng.random() * (len(outlet.city.brokers)))]
        branch = {
            "agency": outlet.code,
            "bancassurance": outlet.code[:-2],
            "internet": "86",
        }.get(channel, outlet.city.code)
        self._ctx = (channel, outlet, agent, partner, applied, issued)
        # Defect.
        if kind is not None:
            agent = self._inject(kind, fam, ring) or agent
        if kind == "SC04":
            drop = "insured" if rng.random() < 0.5 else "applicant"
            rows = [(p, r) for p, r in rows if r[ROLE] != drop]
            self._truth("SC04", policy_no, "policy", 0, "role")
        self.w["policies"].writerow(
            [
                policy_no,
                prod[0],
                prod[1],
                channel,
                branch,
                agent.staff_no if agent else "",
                partner.code if partner else "",
                iso(applied),
                iso(issued),
                status,
                term,
                f"{premium:.2f}",
                f"{premium * prod[5] * rng.uniform(0.8, 1.2):.2f}",
            ]
        )
        wp = self.w["parties"].writerow
        wpers = self.persons.append
        for p, r in rows:
            wp(r)
            key = (policy_no, r[ROLE], r[SEQ])
            p.rows.append(key)
            wpers((*key, p.uid))
        self.counts["policies"] += 1
        self.counts["parties"] += len(rows)
        if len(self.persons) > 5000:
            self.w["persons"].writerows(self.persons)
            self.persons.clear()
        self._service(policy_no, rows, kind, outlet, applied, issued)

    def flush(self):
        self.w["persons"].writerows(self.persons)
        self.persons.clear()

    # --- changes and visits ----------------------------------------------------------------------
    def _service(self, policy_no, rows, kind, outlet, applied, issued) -> None:
        rng = self.rng
        city = outlet.city
        app = next((r for p, r in rows if r[ROLE] == "applicant"), None)
        if app is not None and rng.random() < 0.04 and kind != "SC01":
            field = pk(rng, (MOB, ADDR, OCC)) if app[MOB] else OCC
            when = self._after(issued)
            old = self._old_value(field, app)
            req = f"BQ{when[:4]}{ri(rng, 10000000, 99999999)}"
            if field == OCC:
                req = "" if rng.random() < 0.5 else req  # occupation is not a contact field: no SC01
            self.w["changes"].writerow(
                [
                    policy_no,
                    "applicant",
                    1,
                    FIELD[field],
                    old,
                    app[field],
                    when,
                    city.operations[int(rng.random() * (len(city.operations)))].staff_no,
                    req,
                ]
            )
            self.counts["changes"] += 1
        if kind == "SC01":
            cands = [(r, f) for p, r in rows for f in (MOB, PHONE, ADDR) if r[f] and r[ROLE] != "beneficiary"]
            r, field = cands[int(rng.random() * (len(cands)))]
            self.w["changes"].writerow(
                [
                    policy_no,
                    r[ROLE],
                    r[SEQ],
                    FIELD[field],
                    self._old_value(field, r),
                    r[field],
                    self._after(issued),
                    city.operations[int(rng.random() * (len(city.operations)))].staff_no,
                    "",
                ]
            )
            self.counts["changes"] += 1
            self._truth("SC01", policy_no, r[ROLE], r[SEQ], FIELD[field])
        if app is None or (rng.random() > 0.85 and kind != "PH08"):
            return
        staff = city.service[int(rng.random() * (len(city.service)))].staff_no
        when = issued + ri(rng, 3, 20)
        method = METHOD(rng)
        contact = app[MOB] or app[PHONE]
        if method == "letter" or not contact:
            method, contact = "letter", app[ADDR]
        elif method == "onsite":
            contact = app[ADDR]
        outcome = OUTCOME(rng)
        if kind == "PH08":
            method = "phone"
            contact = app[MOB] or app[PHONE]
            outcome = pk(rng, ("mismatch", "mismatch", "wrong_number"))
            self._truth("PH08", policy_no, "applicant", 1, "mobile" if app[MOB] else "phone")
        wv = self.w["visits"].writerow
        wv([policy_no, self._ts(when), method, contact, outcome, staff])
        self.counts["visits"] += 1
        if outcome == "no_answer":
            wv([policy_no, self._ts(when + ri(rng, 1, 5)), method, contact, "success", staff])
            self.counts["visits"] += 1

    def _ts(self, day: int) -> str:
        m, sec = divmod(int(self.rng.random() * 32400), 60)
        h, m = divmod(m, 60)
        return f"{iso(min(day, base.BOOK_END))}T{h + 9:02d}:{m:02d}:{sec:02d}"

    def _after(self, issued: int) -> str:
        day = issued + ri(self.rng, 20, 1200)
        if day > base.BOOK_END:
            day = max(issued + 1, base.BOOK_END - ri(self.rng, 0, 10))
        return self._ts(day)

    def _old_value(self, field: int, row: list) -> str:
        rng = self.rng
        if field == MOB:
            return self._mobile()
        if field == OCC:
            return words.OCCUPATIONS[int(rng.random() * (len(words.OCCUPATIONS) - 1))]
        if field == PHONE:
            return base.fixed_line(rng, self._ctx[1].place.area_code)
        return base.address(rng, self._ctx[1].place)[0]

    # --- truth -----------------------------------------------------------------------------------
    def _truth(self, check, policy_no, role, seq, field) -> None:
        self.truth.append((check, policy_no, role, seq, field))

    def _mark(self, check: str, person: Person, field: str) -> None:
        roles = CHECKS[check][1]
        for p, r in self._rows:
            if p is person and r[ROLE] in roles:
                self._truth(check, r[POL], r[ROLE], r[SEQ], field)

    def _set(self, person: Person, idx: int, value: str) -> None:
        for p, r in self._rows:
            if p is person:
                r[idx] = value

    # --- rings -----------------------------------------------------------------------------------
    def _ring(self, kind: str, channel: str, size: int, i: int) -> None:
        rng = self.rng
        if kind == "PH06":
            value = self._mobile()
        elif kind == "EM02":
            value = self._email("")
        else:
            value = None
        surnames: set[str] = set()
        outlet = self.org.outlet_pick(rng)
        for k in range(size):
            ring = {"kind": kind, "value": value, "surnames": surnames, "outlet": outlet}
            self._policy(i + k, kind, channel, None, ring=ring)
            if value is None:
                value = ring["value"]

    # --- injection -------------------------------------------------------------------------------
    def _inject(self, kind: str, fam: Family, ring) -> Staff | None:  # noqa: C901
        rng = self.rng
        rows = self._rows
        channel, outlet, agent, partner, applied, issued = self._ctx
        app_p, app_r = rows[0]
        ins_p, ins_r = rows[1]
        people = []
        for p, _r in rows:
            if p not in people:
                people.append(p)

        def pick(pred=lambda p: True):
            weights = {app_p: 6, ins_p: 3}
            cands = [p for p in people if pred(p) and p.staff is None]
            if not cands:
                return None
            return rng.choices(cands, [weights.get(p, 2) for p in cands])[0]

        def resident(p):
            return p.id_type == "resident_id"

        def neutral(p):
            return all(r[REL] not in GENDERED for q, r in rows if q is p)

        if ring is not None:
            # Ring member: an unrelated applicant (own surname) sharing one value with the others.
            while app_p.name[:1] in ring["surnames"] or app_p.name[:2] in ring["surnames"]:
                app_p.name = base.han_name(rng, base.SURNAME(rng), app_p.gender == "M")
                self._set(app_p, NAME, app_p.name)
            ring["surnames"].add(app_p.name[:1])
            if kind == "PH06":
                self._set(app_p, MOB, ring["value"])
                self._mark("PH06", app_p, "mobile")
            elif kind == "EM02":
                self._set(app_p, EMAIL, ring["value"])
                self._mark("EM02", app_p, "email")
            else:
                if ring["value"] is None:
                    ring["value"] = (app_r[ADDR], app_r[PC])
                self._set(app_p, ADDR, ring["value"][0])
                self._set(app_p, PC, ring["value"][1])
                self._mark("AD05", app_p, "address")
            return None
        if kind in VARIANT_KINDS or (kind == "ID10" and app_p.rows):
            return self._variant(kind, app_p)
        if kind in NEEDS_RESIDENT:
            ok = NEEDS_RESIDENT[kind]
            if not any(resident(p) and ok(p, rows) for p in people if p.staff is None):
                kind = "ID01"  # nobody on this policy holds a resident ID that fits: an empty ID instead
        if kind == "ID01":
            p = pick()
            if rng.random() < 0.8:
                self._set(p, IDNO, "")
                self._mark("ID01", p, "id_no")
            else:
                self._set(p, IDTYPE, "")
                self._mark("ID01", p, "id_type")
        elif kind == "ID02":
            p = pick(resident)
            s = p.id_no
            v = pk(rng, (s[:-1], s + str(int(rng.random() * (10))), s[:10] + "O" + s[11:], s[:8] + s[9:]))
            self._set(p, IDNO, v)
            self._mark("ID02", p, "id_no")
        elif kind == "ID03":
            p = pick(resident)
            s = p.id_no
            bad = pk(rng, [c for c in "0123456789X" if c != s[-1]])
            self._set(p, IDNO, s[:-1] + bad)
            self._mark("ID03", p, "id_no")
        elif kind == "ID04":
            p = pick(resident)
            s = p.id_no
            y = s[6:10]
            d = pk(rng, (f"{y}1315", f"{y}0230", f"{y}0431", f"{y}0000", f"{y}0600", f"{y}1132"))
            id17 = s[:6] + d + s[14:17]
            self._set(p, IDNO, id17 + base.check_digit(id17))
            self._mark("ID04", p, "id_no")
        elif kind == "ID05":
            p = pick(resident)
            s = p.id_no
            while True:
                code = s[:2] + f"{pk(rng, (8, 9))}{ri(rng, 1, 9)}{ri(rng, 50, 99)}"
                if code not in _ALL_CODES and code[:4] + "00" not in _ALL_CODES:
                    break
            id17 = code + s[6:17]
            self._set(p, IDNO, id17 + base.check_digit(id17))
            self._mark("ID05", p, "id_no")
        elif kind == "ID06":
            p = pick(lambda p: resident(p) and p.birth)
            shift = pk(rng, (-1, 1)) * ri(rng, 1, 25)
            self._set(p, BIRTH, iso(p.birth + shift))
            self._mark("ID06", p, "birth_date")
        elif kind == "ID07":
            p = pick(lambda p: resident(p) and neutral(p))
            self._set(p, GENDER, "F" if p.gender == "M" else "M")
            self._mark("ID07", p, "gender")
        elif kind == "ID08":
            p = pick(lambda p: resident(p) and p.gender == "F") or pick(resident)
            id17 = p.id_no[:14] + "000"  # all-zero sequence part (always "female")
            self._set(p, IDNO, id17 + base.check_digit(id17))
            self._mark("ID08", p, "id_no")
            if p.gender == "M":
                self._mark("ID07", p, "gender")
        elif kind == "ID10":
            p = pick(lambda p: resident(p) and base.YEARS[p.birth - base.D0] < 2000)
            s = p.id_no
            self._set(p, IDNO, s[:6] + s[8:17])
            self._set(p, VALID, "")
            self._mark("ID10", p, "id_no")
        elif kind == "ID11":
            p = pick(resident)
            self._set(p, IDTYPE, pk(rng, ("passport", "passport", "hk_macau_permit", "taiwan_permit")))
            self._mark("ID11", p, "id_no")
        elif kind == "ID12":
            p = pick(resident)
            self._set(p, VALID, iso(applied - ri(rng, 1, 1500)))
            self._mark("ID12", p, "id_valid_until")
        elif kind == "NM01":
            p = pick() or app_p  # every person on the policy may be staff: pick() is then None
            self._set(p, NAME, "")
            self._mark("NM01", p, "name")
        elif kind == "NM02":
            p = pick() or app_p
            v = pk(rng, NAME_PLACEHOLDERS)
            if v in ("先生", "女士"):
                v = p.name[:1] + ("先生" if p.gender == "M" else "女士")
            self._set(p, NAME, v)
            self._mark("NM02", p, "name")
        elif kind == "NM03":
            p = pick(lambda p: "·" not in p.name) or app_p
            n = p.name
            v = pk(
                rng,
                (
                    n + str(ri(rng, 1, 9)),
                    n + "。",
                    n[:1] + "*" + n[1:],
                    n[:1] + "Li" + n[1:],
                    n + "(" + n[-1] + ")",
                ),
            )
            self._set(p, NAME, v)
            self._mark("NM03", p, "name")
        elif kind == "NM04":
            p = pick()
            if rng.random() < 0.5:
                v = pk(rng, words.UYGHUR_M if p.gender == "M" else words.UYGHUR_F) + "艾合买提江"
            else:
                v = pk(rng, words.UYGHUR_M if p.gender == "M" else words.UYGHUR_F) + pk(
                    rng, ("阿不都热合曼", "吐尔逊买买提", "阿不都克里木")
                )
            self._set(p, NAME, v)
            self._mark("NM04", p, "name")
        elif kind == "BD01":
            p = pick() or app_p
            hk = rng.random() < 0.6
            self._set(p, IDTYPE, "hk_macau_permit" if hk else "taiwan_permit")
            self._set(p, NAT, ("HKG" if hk else "TWN"))
            self._set(p, IDNO, f"H{ri(rng, 10000000, 99999999)}" if hk else f"{ri(rng, 10000000, 99999999)}")
            self._set(p, VALID, iso(base.ordinal(ri(rng, 2026, 2032), 6, 30)))
            if rng.random() < 0.6:
                self._set(p, BIRTH, "")
                self._mark("BD01", p, "birth_date")
            else:
                self._set(p, GENDER, "")
                self._mark("BD01", p, "gender")
        elif kind == "BD02":
            p = ins_p
            self._mark("BD02", p, "birth_date")
        elif kind == "BD03":
            self._mark("BD03", app_p, "birth_date")
        elif kind in ("RL01", "RL02"):
            table = AGE_SWAP if kind == "RL01" else GENDER_SWAP
            cands = [r for p, r in rows if r[REL] in table]
            if not cands:
                # no gendered relation on this policy: re-code the insured's relation
                cands = [ins_r]
                ins_r[REL] = "self" if ins_p is app_p else ins_r[REL]
            if cands and cands[0][REL] in table:
                r = cands[int(rng.random() * (len(cands)))]
                r[REL] = table[r[REL]]
                self._truth(kind, r[POL], r[ROLE], r[SEQ], "relation")
        elif kind == "RL03":
            if ins_p is not app_p:
                ins_r[REL] = "self"
                self._truth("RL03", ins_r[POL], "insured", 1, "relation")
        elif kind == "RL04":
            if ins_r[REL] == "spouse":
                self._truth("RL04", ins_r[POL], "insured", 1, "relation")
        elif kind == "PH01":
            self._set(app_p, MOB, "")
            self._set(app_p, PHONE, "")
            self._mark("PH01", app_p, "mobile")
        elif kind == "PH02":
            p = pick(lambda p: p.mobile) or app_p
            v = pk(
                rng,
                (
                    f"{pk(rng, ('140', '141', '144', '148'))}{ri(rng, 10000000, 99999999)}",
                    f"1{pk(rng, ('20', '21', '10', '00', '54', '64'))}{ri(rng, 10000000, 99999999)}",
                    p.mobile[:-1] if p.mobile else "1380013",
                    (p.mobile or "13912345678") + str(int(rng.random() * (10))),
                ),
            )
            self._set(p, MOB, v)
            self._mark("PH02", p, "mobile")
        elif kind == "PH03":
            p = pick(lambda p: p.mobile) or app_p
            v = pk(rng, MOBILE_PLACEHOLDERS)
            self._set(p, MOB, v)
            self._mark("PH03", p, "mobile")
            if p is app_p:
                self.agg_mobile.append((v, app_r[POL], p.uid))
        elif kind == "PH04":
            p = pick(lambda p: p.mobile) or app_p
            ac = fam.place.area_code
            v = pk(
                rng,
                (
                    f"{ri(rng, 20000000, 89999999)}",
                    f"0{ac}-{ri(rng, 100000, 999999)}",
                    f"0{ac}-{ri(rng, 100000000, 999999999)}",
                    f"{ac}-{ri(rng, 2000000, 8999999)}"
                    if len(ac) == 3
                    else f"010-{ri(rng, 2000000, 8999999)}",
                ),
            )
            self._set(p, PHONE, v)
            self._mark("PH04", p, "phone")
        elif kind == "PH05":
            staff = agent if (agent is not None and not agent.self_buyer and rng.random() < 0.75) else None
            if staff is None:
                team = [s for s in (outlet.agents + outlet.banc) if not s.self_buyer]
                staff = team[int(rng.random() * (len(team)))]
            self._set(app_p, MOB, staff.mobile)
            self._mark("PH05", app_p, "mobile")
            self.agg_mobile.append((staff.mobile, app_r[POL], app_p.uid))
        elif kind == "PH07":
            v = (
                partner.phone
                if partner
                else (outlet.phone if rng.random() < 0.7 else _branch_phone(self.org, outlet))
            )
            self._set(app_p, PHONE, v)
            self._mark("PH07", app_p, "phone")
        elif kind == "AD01":
            self._set(app_p, ADDR, "")
            self._mark("AD01", app_p, "address")
        elif kind == "AD02":
            self._set(app_p, ADDR, pk(rng, ADDR_PLACEHOLDERS))
            self._mark("AD02", app_p, "address")
        elif kind == "AD03":
            place = fam.place
            st = base.street(rng, no_numerals=True)
            v = pk(
                rng,
                (
                    f"{place.prefix}{st}",
                    f"{place.prefix}{st}附近",
                    f"{place.prefix}{pk(rng, words.COMMUNITIES)}对面",
                    f"{place.prefix}{st}{pk(rng, ('旁边', '对面'))}",
                ),
            )
            self._set(app_p, ADDR, v)
            self._mark("AD03", app_p, "address")
        elif kind == "AD04":
            partner = partner if partner and partner.kind in ("bank", "post") else None
            src = partner.address if partner else outlet.address
            r = rng.random()
            if r < 0.45:
                v = src
            elif r < 0.75:
                v = src + pk(rng, ("1楼", "2楼", "一层", "大厅"))
            else:
                bank = (
                    partner.name
                    if partner
                    else "中国邮政储蓄银行" + base.short_place(outlet.place.county.name) + "支行"
                )
                v = (
                    src + bank[-8:]
                    if rng.random() < 0.5
                    else f"{outlet.place.prefix}{base.street(rng)}{ri(rng, 1, 300)}号{bank}"
                )
            self._set(app_p, ADDR, v)
            self._mark("AD04", app_p, "address")
            self.agg_addr.append((v, app_r[POL], app_p.uid))
        elif kind == "AD06":
            pc = app_r[PC]
            other = pk(
                rng,
                [
                    pp
                    for code, pps in _PC.items()
                    if code != fam.place.prov.code
                    for pp in pps
                    if pp[:1] != pc[:1]
                ],
            )
            v = pk(rng, (other + pc[2:], pc[:5], pc + "0"))
            self._set(app_p, PC, v)
            self._mark("AD06", app_p, "postcode")
        elif kind == "EM01":
            p = pick() or app_p
            local = "".join(pk(rng, words.LETTERS) for _ in range(5))
            v = pk(
                rng,
                (f"{local}@", f"{local}.163.com", f"{local}@qq", f"{local}@@163.com", f"{local} @126.com"),
            )
            self._set(p, EMAIL, v)
            self._mark("EM01", p, "email")
        elif kind == "SC02":
            staff = agent
            sp = self._staff_person(staff)
            r = sp.values()
            seq = sum(1 for _p, rr in rows if rr[ROLE] == "beneficiary") + 1
            r[POL], r[ROLE], r[SEQ], r[REL] = app_r[POL], "beneficiary", seq, "other"
            rows.append((sp, r))
            self._truth("SC02", r[POL], "beneficiary", seq, "id_no")
        elif kind == "SC03":
            left = [s for s in outlet.agents if s.left and s.left < applied - 1 and not s.blacklisted]
            if channel == "agency" and left and rng.random() < 0.6:
                agent = left[int(rng.random() * (len(left)))]
            else:
                agent = self.org.blacklist[int(rng.random() * (len(self.org.blacklist)))]
            self._truth("SC03", app_r[POL], "policy", 0, "agent_no")
            return agent
        return None

    def _variant(self, kind: str, p: Person) -> None:
        """A deviation of a person already seen on an earlier policy of this chunk."""
        rng = self.rng
        if kind == "ID09":
            # Only the deviating rows are listed: they must stay the minority under the ID number.
            here = sum(1 for q, _r in self._rows if q is p)
            if len(p.rows) <= here or getattr(p, "renamed", False):
                self.retry.append("ID09")
                return
            self._set(p, NAME, base.homophone(p.name, rng))
            p.renamed = True  # at most one deviating name per person
            self._mark("ID09", p, "id_no")
        elif kind == "XC01":
            self._set(p, GENDER, "F" if p.gender == "M" else "M")
            if p.id_type in ("resident_id", "household_register"):  # only these carry a gender digit
                self._mark("ID07", p, "gender")
            self._mark("XC01", p, "gender")
        elif kind == "XC03":
            s = p.id_no
            if len(s) == 18:
                k = pk(rng, (14, 15))
                if s[14] != s[15] and rng.random() < 0.4:
                    v = s[:14] + s[15] + s[14] + s[16:]
                else:
                    v = s[:k] + pk(rng, [c for c in "0123456789" if c != s[k]]) + s[k + 1 :]
                self._set(p, IDNO, v)
                self._mark("ID03", p, "id_no")
                self._mark("XC03", p, "id_no")
        elif kind == "XC02":
            field = EMAIL if p.email else OCC
            self._set(p, field, "")
            self._mark("XC02", p, FIELD[field])
        elif kind == "ID10":
            s = p.id_no
            if len(s) == 18 and s[6:8] == "19":
                self._set(p, IDNO, s[:6] + s[8:17])
                self._mark("ID10", p, "id_no")
            else:
                field = EMAIL if p.email else OCC
                self._set(p, field, "")
                self._mark("XC02", p, FIELD[field])


def _branch_phone(org: Org, outlet: Outlet) -> str:
    for b in org.branches:
        if b[0] == outlet.code[:-2]:
            return b[5]
    return outlet.phone


def _same_pref(place, rng):
    cands = _BY_PREF[place.pref.code]
    return cands[int(rng.random() * (len(cands)))]


def _same_prov(place, rng):
    cands = _BY_PROV[place.prov.code]
    return cands[int(rng.random() * (len(cands)))]


_BY_PREF: dict[str, list] = {}
_BY_PROV: dict[str, list] = {}
for _p in base.PLACE_LIST:
    _BY_PREF.setdefault(_p.pref.code, []).append(_p)
    _BY_PROV.setdefault(_p.prov.code, []).append(_p)
_ALL_CODES = PLACES.all_codes
