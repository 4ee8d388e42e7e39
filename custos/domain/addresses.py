"""Postal addresses: placeholders, vagueness, outlet wording, similarity (AD02–AD06)."""

from __future__ import annotations

import re

from custos.domain import refdata
from custos.domain.normalize import CHINESE_NUMERALS, address_form

# The word lists of the address checks, one copy: the catalogue's SQL and custos_native's generated
# header (custos.checks.native.words_header) are built from them.
OUTLET_WORDS = ("邮政", "邮局", "营业所", "营业部", "支行", "网点", "支局")  # AD04
VAGUE_ENDINGS = ("附近", "对面", "旁边", "路", "街", "道")  # AD03
RURAL = ("村", "乡", "镇", "组", "屯", "嘎查")  # AD03: no house number needed
# AD04's road: 2–8 characters that are not a province/city/district/county/town/township, then an ending
STREET_EXCLUDED = "省市区县镇乡"
STREET_ENDS = "路街道巷弄"


def is_placeholder(value: str | None) -> bool:
    n = address_form(value)
    if n is None:
        return False
    return n in refdata.placeholders("address") or (len(n) >= 2 and len(set(n)) == 1)


def is_vague(value: str | None, min_len: int = 8) -> bool:
    """AD03: too short, no house number in an urban address, or ending in a vague word."""
    n = address_form(value)
    if n is None:
        return False
    if len(n) < min_len:
        return True
    urban = not any(w in n for w in RURAL)
    if urban and not re.search(f"[0-9{CHINESE_NUMERALS}]", n):
        return True
    return n.endswith(VAGUE_ENDINGS)


def has_outlet_wording(value: str | None) -> bool:
    n = address_form(value)
    return bool(n) and any(w in n for w in OUTLET_WORDS)


def jaccard(a: str, b: str) -> float:
    """Character-set Jaccard similarity of two normalised addresses."""
    sa, sb = set(a), set(b)
    if not sa and not sb:
        return 1.0
    return len(sa & sb) / len(sa | sb)


RE_STREET = re.compile(f"[^{STREET_EXCLUDED}]{{2,8}}[{STREET_ENDS}]")
RE_NUMBERS = re.compile(f"[0-9{CHINESE_NUMERALS}]+")


def street(address: str) -> str:
    """AD04's road token: the first 2–8 characters that are not a province/city/district/county/town/
    township, ending in 路/街/道/巷/弄; '' when there is none."""
    m = RE_STREET.search(address)
    return m.group(0) if m else ""


def numbers(address: str) -> list[str]:
    """AD04's numbered parts, in order: house number, building, unit, floor, room (Arabic or Chinese)."""
    return RE_NUMBERS.findall(address)


def same_address(a: str, b: str, threshold: float = 0.8) -> bool:
    """AD04: two normalised addresses are one place when they are equal, or share the road and the
    first six characters, their numbered parts agree as far as both go (one's are the other's followed
    by more: 16号 and 16号1室), they are within a quarter of each other's length, and their characters
    reach a Jaccard ``threshold`` (the estate's name written slightly differently)."""
    if a == b:
        return True
    na, nb = numbers(a), numbers(b)
    road = street(b)
    return (
        road != ""
        and street(a) == road
        and a[:6] == b[:6]
        and 4 * abs(len(a) - len(b)) <= max(len(a), len(b))
        and (na[: len(nb)] == nb or nb[: len(na)] == na)
        and jaccard(a, b) >= threshold
    )


def is_outlet_address(value: str | None, outlets, threshold: float = 0.8) -> bool:
    """AD04 (for a customer who is not staff): the address is an outlet's or contains outlet wording."""
    n = address_form(value)
    if not n:
        return False
    return has_outlet_wording(n) or any(same_address(n, o, threshold) for o in outlets)


def province(value: str | None) -> str | None:
    """GB2260 2-digit province code when the address starts with a province's short name."""
    n = address_form(value)
    if not n:
        return None
    for short, code in refdata.province_names().items():
        if n.startswith(short):
            return code
    return None


def postcode_ok(postcode: str | None, address: str | None) -> bool:
    """AD06: six digits, and the 2-digit prefix belongs to the address's province when it names one."""
    if postcode is None or not postcode.strip():
        return True
    p = postcode.strip()
    if not re.fullmatch(r"\d{6}", p):
        return False
    prov = province(address)
    return prov is None or p[:2] in refdata.postcode_prefixes(prov)
