"""The defects injected into a policy: one per check of the catalogue, the rings of policies that
share a contact, and the variants of a returning person (a mixin of `Chunk`)."""

from __future__ import annotations

from custos.synth import base, words
from custos.synth.base import iso, pk, ri
from custos.synth.org import Org, Outlet, Staff
from custos.synth.people import (
    ADDR,
    BIRTH,
    EMAIL,
    FIELD,
    GENDER,
    IDNO,
    IDTYPE,
    MOB,
    NAME,
    NAT,
    OCC,
    PC,
    PHONE,
    POL,
    REL,
    ROLE,
    SEQ,
    VALID,
    VARIANT_KINDS,
    Family,
    Person,
)
from custos.synth.places import PLACES
from custos.synth.places import POSTCODE_PREFIX as _PC

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


class Injection:
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
