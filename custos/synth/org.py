"""The insurer's organisation: branch tree, staff, partner outlets, blacklist.

Built once per book from the seed (in the parent process) and shared read-only with the workers.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from custos.synth import base, words
from custos.synth.base import Picker, Place, iso, ordinal
from custos.synth.places import PLACES


@dataclass
class Staff:
    staff_no: str
    name: str
    gender: str
    id_no: str
    birth: int
    mobile: str
    address: str
    postcode: str
    branch_code: str
    channel: str
    position: str
    supervisor_no: str
    hired: int
    left: int  # 0 = still employed
    blacklisted: bool = False
    self_buyer: bool = False  # buys policies for self and family (the PH05 "is that staff" case)

    def row(self) -> list:
        return [
            self.staff_no,
            self.name,
            self.gender,
            "resident_id",
            self.id_no,
            self.mobile,
            self.address,
            self.branch_code,
            self.channel,
            self.position,
            self.supervisor_no,
            iso(self.hired),
            iso(self.left) if self.left else "",
        ]

    def active(self, day: int) -> bool:
        return self.hired < day and (not self.left or self.left > day) and not self.blacklisted


@dataclass
class Partner:
    code: str
    name: str
    kind: str
    branch_code: str
    address: str
    phone: str
    contract_no: str
    contract_until: int
    status: str

    def row(self) -> list:
        return [
            self.code,
            self.name,
            self.kind,
            self.branch_code,
            self.address,
            self.phone,
            self.contract_no,
            iso(self.contract_until),
            self.status,
        ]


@dataclass
class Outlet:
    """A sales unit at county level: an outlet (营业部) with its agents and the county's banks."""

    code: str
    place: Place
    address: str
    phone: str
    agents: list[Staff] = field(default_factory=list)  # agency channel, anchor first
    banc: list[Staff] = field(default_factory=list)  # bancassurance specialists, anchor first
    partners: list[Partner] = field(default_factory=list)  # bank/post outlets of the county
    city: City | None = None


@dataclass
class City:
    code: str
    place: Place
    outlets: list[Outlet] = field(default_factory=list)
    channel_staff: dict[str, list[Staff]] = field(default_factory=dict)  # group/telesales/broker
    brokers: list[Partner] = field(default_factory=list)
    operations: list[Staff] = field(default_factory=list)
    service: list[Staff] = field(default_factory=list)


class Org:
    def __init__(self, seed: int, policies: int):
        rng = random.Random(seed * 7919 + 104729)
        self.rng = rng
        self.branches: list[list] = []
        self.staff: list[Staff] = []
        self.partners: list[Partner] = []
        self.cities: list[City] = []
        self.outlets: list[Outlet] = []
        self.used_ids: set[str] = set()
        self.used_mobiles: set[str] = set()
        # county code -> character sets of the branch and outlet addresses in it (AD04 guard)
        self.outlet_chars: dict[str, list[frozenset]] = {}
        self._staff_seq = 0
        self._partner_seq = 0
        scale = math.sqrt(min(1.0, policies / 1_000_000))
        n_prov = max(3, min(31, round(3 + 28 * scale)))
        provs = list(PLACES.provinces.values())
        chosen = []
        weights = [p.weight for p in provs]
        while len(chosen) < n_prov:
            p = rng.choices(provs, weights)[0]
            if p not in chosen:
                chosen.append(p)
        head_place = base.PLACE_BY_CODE.get("110105") or base.PLACE_LIST[0]
        head_addr = f"{head_place.prefix}建国门外大街{rng.randint(1, 99)}号"
        self.branches.append(["86", "总公司", "", "head", head_addr, base.fixed_line(rng, "10", True)])
        self._outlet_address(head_place, head_addr)
        for role, n in (
            ("executive", 3),
            ("compliance", 3),
            ("it", 5),
            ("finance", 3),
            ("customer_service", 4),
            ("operations", 3),
        ):
            for _ in range(n):
                self._person("86", head_place, "", role, "")
        for prov in chosen:
            self._province(rng, prov, scale)
        n_agents = [s for s in self.staff if s.position == "agent" and s.left]
        for s in rng.sample(n_agents, max(3, len(n_agents) // 60)):
            s.blacklisted = True
        for o in self.outlets:
            for s in o.agents[1:] + o.banc[1:]:
                if not s.blacklisted and not s.left and rng.random() < 0.04:
                    s.self_buyer = True
        self.outlet_pick = Picker((o, 1.0 + len(o.partners) * 0.5) for o in self.outlets)
        self.all_staff_mobiles = [s.mobile for s in self.staff]
        self.blacklist = [s for s in self.staff if s.blacklisted]
        self.left_agents = [s for s in self.staff if s.position == "agent" and s.left and not s.blacklisted]

    # --- builders --------------------------------------------------------------------------------
    def _outlet_address(self, place: Place, addr: str, st: str = "") -> None:
        self.outlet_chars.setdefault(place.county.code, []).append(frozenset(addr))

    def _person(self, branch, place, channel, position, supervisor, hired=0, left=0, anchor=False) -> Staff:
        rng = self.rng
        self._staff_seq += 1
        staff_no = f"{'A' if position in ('agent', 'sales_manager') else 'E'}{self._staff_seq:07d}"
        male = rng.random() < (0.45 if position in ("agent", "customer_service") else 0.6)
        if not hired:
            if anchor:
                hired = ordinal(rng.randint(2003, 2008), rng.randint(1, 12), rng.randint(1, 28))
            else:
                hired = ordinal(2005, 1, 1) + rng.randrange(20 * 365)
        birth = hired - int(base.YEAR * rng.uniform(21, 50))
        if not left and not anchor and rng.random() < 0.3:
            left = min(hired + rng.randint(120, 3000), base.BOOK_END - 1)
        own_place = place if rng.random() < 0.8 else base.ANY_PLACE(rng)
        code6 = own_place.county.code
        while True:
            id_no = base.resident_id(code6, birth, base.id_seq(rng, 0, male))
            if id_no not in self.used_ids:
                self.used_ids.add(id_no)
                break
        while True:
            m = base.SEGMENT(rng) + f"{base.mobile_suffix(rng, 0):08d}"
            if m not in self.used_mobiles:
                self.used_mobiles.add(m)
                break
        name = base.minority_name(rng, own_place.prov.code, male) or base.han_name(
            rng, base.SURNAME(rng), male
        )
        addr, pc, _ = base.address(rng, place)
        s = Staff(
            staff_no,
            name,
            "M" if male else "F",
            id_no,
            birth,
            m,
            addr,
            pc,
            branch,
            channel,
            position,
            supervisor,
            hired,
            left,
        )
        self.staff.append(s)
        return s

    def _branch(self, code, name, parent, level, place: Place) -> tuple[str, str]:
        addr, _, st = base.outlet_address(self.rng, place)
        phone = base.fixed_line(self.rng, place.area_code, True)
        self.branches.append([code, name, parent, level, addr, phone])
        self._outlet_address(place, addr, st)
        return addr, phone

    def _partner(self, kind, name, branch, place: Place) -> Partner:
        rng = self.rng
        self._partner_seq += 1
        addr, _, st = base.outlet_address(rng, place)
        self._outlet_address(place, addr, st)
        status = "active" if rng.random() < 0.88 else rng.choice(("suspended", "terminated"))
        until = (
            ordinal(rng.randint(2026, 2030), 12, 31)
            if status == "active"
            else ordinal(rng.randint(2016, 2025), 6, 30)
        )
        p = Partner(
            f"PT{self._partner_seq:06d}",
            name,
            kind,
            branch,
            addr,
            base.fixed_line(rng, place.area_code, True),
            f"HT{rng.randint(2010, 2025)}{self._partner_seq:06d}",
            until,
            status,
        )
        self.partners.append(p)
        return p

    def _province(self, rng, prov, scale) -> None:
        pcode = f"86{prov.code}"
        capital = prov.prefectures[0]
        cap_place = next(p for p in base.PLACE_LIST if p.pref is capital)
        self._branch(pcode, f"{base.short_province(prov.name)}分公司", "86", "province", cap_place)
        exec_ = self._person(pcode, cap_place, "", "executive", "")
        for role, n in (("compliance", 1), ("finance", 1), ("it", 1), ("operations", 2)):
            for _ in range(n):
                self._person(pcode, cap_place, "", role, exec_.staff_no)
        prefs = [capital] + rng.sample(
            prov.prefectures[1:], min(len(prov.prefectures) - 1, round(1 + 7 * scale))
        )
        for pref in prefs:
            places = [p for p in base.PLACE_LIST if p.pref is pref]
            city_code = f"{pcode}{pref.code[2:]}"
            cplace = places[0]
            label = base.short_province(prov.name) if prov.municipality else base.short_place(pref.name)
            self._branch(city_code, f"{label}中心支公司", pcode, "city", cplace)
            city = City(city_code, cplace)
            self.cities.append(city)
            for role, n in (("operations", 2), ("customer_service", 2), ("finance", 1)):
                for _ in range(n):
                    s = self._person(city_code, cplace, "", role, exec_.staff_no)
                    (
                        city.operations
                        if role == "operations"
                        else city.service
                        if role == "customer_service"
                        else []
                    ).append(s)
            if rng.random() < 0.1:
                self._person(city_code, cplace, "", "other", exec_.staff_no)
            for channel, n in (("group", 2), ("telesales", 3), ("broker", 1)):
                mgr = self._person(city_code, cplace, channel, "sales_manager", exec_.staff_no, anchor=True)
                team = [self._person(city_code, cplace, channel, "agent", mgr.staff_no, anchor=True)]
                team += [self._person(city_code, cplace, channel, "agent", mgr.staff_no) for _ in range(n)]
                city.channel_staff[channel] = team
            bname = rng.choice(words.BROKERS)
            city.brokers.append(self._partner("broker", f"{bname}有限公司{label}分公司", city_code, cplace))
            if rng.random() < 0.6:
                aname = rng.choice(words.AGENCIES)
                city.brokers.append(
                    self._partner("agency", f"{aname}有限公司{label}营业部", city_code, cplace)
                )
            if rng.random() < 0.3:
                oname = rng.choice(words.OTHER_AGENCIES)
                city.brokers.append(
                    self._partner("other_agency", f"{label}{oname}有限公司", city_code, cplace)
                )
            n_counties = max(1, min(len(places), round(1 + 4 * scale) + (2 if prov.municipality else 0)))
            for place in rng.sample(places, n_counties):
                self._county(rng, city, place, scale)

    def _county(self, rng, city: City, place: Place, scale: float) -> None:
        ccode = f"{city.code}{place.county.code[4:]}"
        short = base.short_place(place.county.name)
        self._branch(ccode, f"{short}支公司", city.code, "county", place)
        banc_mgr = self._person(ccode, place, "bancassurance", "sales_manager", "", anchor=True)
        banc = [self._person(ccode, place, "bancassurance", "agent", banc_mgr.staff_no, anchor=True)]
        banc += [
            self._person(ccode, place, "bancassurance", "agent", banc_mgr.staff_no)
            for _ in range(rng.randint(2, 4))
        ]
        partners = []
        for _ in range(rng.randint(2, 4)):
            bank = Picker(words.BANKS)(rng)
            name = (
                f"{short}农村商业银行{rng.choice('东南西北中')}支行"
                if bank == "农村商业银行"
                else f"{bank}{short}{rng.choice(('', '城东', '城西', '新区', '人民路', '中山路'))}支行"
            )
            partners.append(self._partner("bank", name, ccode, place))
        if rng.random() < 0.7:
            partners.append(
                self._partner(
                    "post", f"{words.POST_BANK}{short}{rng.choice(('', '城区', '城南'))}支行", ccode, place
                )
            )
        n_out = 1 if rng.random() < 0.55 else 2
        for k in range(n_out):
            ocode = f"{ccode}{k + 1:02d}"
            addr, phone = self._branch(ocode, f"{short}支公司第{'一二'[k]}营业部", ccode, "outlet", place)
            mgr = self._person(ocode, place, "agency", "sales_manager", "", anchor=True)
            agents = [self._person(ocode, place, "agency", "agent", mgr.staff_no, anchor=True)]
            agents += [
                self._person(ocode, place, "agency", "agent", mgr.staff_no) for _ in range(rng.randint(3, 8))
            ]
            o = Outlet(ocode, place, addr, phone, agents, banc, partners, city)
            city.outlets.append(o)
            self.outlets.append(o)
