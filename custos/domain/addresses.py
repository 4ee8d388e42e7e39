"""Postal addresses: placeholders, vagueness, outlet wording, similarity (AD02–AD06)."""

from __future__ import annotations

import re

from custos.domain import refdata
from custos.domain.normalize import CHINESE_NUMERALS, address_form

OUTLET_WORDS = ("邮政", "邮局", "营业所", "营业部", "支行", "网点", "支局")
VAGUE_ENDINGS = ("附近", "对面", "旁边", "路", "街", "道")
RURAL = ("村", "乡", "镇", "组", "屯", "嘎查")


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
