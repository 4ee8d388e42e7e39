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
from custos.synth.injection import Injection, _same_pref, _same_prov
from custos.synth.org import Org, Outlet, Staff
from custos.synth.people import (
    POL,
    REL,
    ROLE,
    SEQ,
    VARIANT_KINDS,
    Family,
    Member,
    Person,
    relation,
)
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
from custos.synth.servicing import Servicing

CHUNK = 25_000
NEEDS_AGENT = ("PH05", "SC02", "SC03")
_CODES_CACHE: dict = {}
APP_AGE = {
    "bancassurance": (28, 68),
    "agency": (24, 58),
    "internet": (20, 45),
    "telesales": (25, 60),
    "broker": (26, 60),
    "group": (30, 60),
}
INSURED_KIN = {
    "agency": (("A", 45), ("S", 15), ("C", 30), ("F", 5), ("M", 5)),
    "bancassurance": (("A", 70), ("S", 15), ("C", 5), ("F", 5), ("M", 5)),
    "internet": (("A", 75), ("S", 10), ("C", 10), ("F", 3), ("M", 2)),
    "telesales": (("A", 75), ("S", 12), ("C", 8), ("F", 3), ("M", 2)),
    "broker": (("A", 55), ("S", 15), ("C", 25), ("F", 3), ("M", 2)),
}
N_KIDS = Picker(((0, 15), (1, 50), (2, 30), (3, 5)))
N_BEN = Picker(((0, 50), (1, 32), (2, 14), (3, 4)))
STATUS = Picker((("in_force", 82), ("lapsed", 6), ("surrendered", 10), ("terminated", 2)))
INSURED_PICK = {c: Picker(w) for c, w in INSURED_KIN.items()}
PRODUCTS = {c: [p for p in words.PRODUCTS if c in p[2]] for c in CHANNELS}
PREFIX = {"bancassurance": "B", "agency": "A", "group": "G", "internet": "W", "telesales": "T", "broker": "K"}


class Chunk(Injection, Servicing):
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
        self.missing = Picker(rates.weights(MISSING_KINDS).items())
        self.false = {
            c: Picker(rates.weights({**FALSE_KINDS, **FALSE_BY_CHANNEL.get(c, {})}).items()) for c in CHANNELS
        }
        self.susp = Picker(rates.weights(SUSPICIOUS_KINDS).items())
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
        if self.rates.in_scope:  # after the draws: the rest of the book is the same
            status, term = "in_force", (3 if term == 1 else term)
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
