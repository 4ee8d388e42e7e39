"""Chinese mobile and fixed-line numbers against the pinned MIIT segment and area-code tables."""

from __future__ import annotations

import re

from custos.domain import refdata
from custos.domain.ids import RUNS
from custos.domain.normalize import clean

RE_MOBILE = re.compile(r"1\d{10}")


def normalize_mobile(value: str | None) -> str | None:
    """Half-width, separators removed, +86/0086/86 country prefix dropped from a 13+-digit form."""
    v = clean(value)
    if v is None:
        return None
    v = re.sub(r"[\s\-()]", "", v)
    for prefix in ("+86", "0086", "86"):
        if v.startswith(prefix) and len(v) - len(prefix) == 11:
            v = v[len(prefix) :]
            break
    return v


def segment(number: str) -> dict | None:
    segs = refdata.mobile_segments()
    return segs.get(number[:4]) or segs.get(number[:3])


def mobile_valid(value: str | None) -> bool:
    """PH02: 11 digits in a segment MIIT allocated for calls (data-only/IoT segments are invalid)."""
    n = normalize_mobile(value)
    if n is None or not RE_MOBILE.fullmatch(n):
        return False
    seg = segment(n)
    return bool(seg and seg["valid"])


def mobile_placeholder(value: str | None, tail_zeros: int = 7) -> bool:
    n = normalize_mobile(value)
    if n is None:
        return False
    if n.lower() in refdata.placeholders("mobile") or len(set(n)) == 1:
        return True
    if any(r in n for r in RUNS):
        return True
    return n.endswith("0" * tail_zeros)


def normalize_fixed(value: str | None) -> str | None:
    v = clean(value)
    if v is None:
        return None
    return re.sub(r"[\s\-()]", "", v)


def fixed_valid(value: str | None) -> bool:
    """PH04: 0 + area code + 7-8 digits; area codes 10 and 2x take 8 digits."""
    n = normalize_fixed(value)
    if n is None or not n.isdigit() or not n.startswith("0"):
        return False
    codes = refdata.area_codes()
    if n[1] in "12":
        return n[1:3] in codes and len(n) == 11
    return n[1:4] in codes and len(n) in (11, 12)
