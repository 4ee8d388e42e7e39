"""The people of a synthetic book: family members, persons (one row's values) and families, the
parties table's column numbers, and the relation of one family member to another."""

from __future__ import annotations

from custos.synth.base import iso

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
