"""Person names: placeholders, impossible characters, implausible lengths (NM02–NM04)."""

from __future__ import annotations

import re

from custos.domain import refdata
from custos.domain.normalize import name_form

HAN = "㐀-䶿一-鿿豈-﫿"
RE_HAN_NAME = re.compile(f"[{HAN}]+(·[{HAN}]+)*")
RE_LATIN_NAME = re.compile(r"[A-Za-z]+([ ·][A-Za-z]+)*")
# a surname and a polite form of address instead of a given name (王先生)
POLITE_SUFFIXES = ("先生", "女士", "小姐")
RE_POLITE = re.compile(f"[{HAN}]({'|'.join(POLITE_SUFFIXES)})")


def is_placeholder(value: str | None) -> bool:
    n = name_form(value)
    if n is None:
        return False
    if n.lower() in refdata.placeholders("name"):
        return True
    if len(n) >= 3 and len(set(n)) == 1:  # 林林, 丹丹 are real names
        return True
    if re.fullmatch(r"[xX*]+", n):
        return True
    return RE_POLITE.fullmatch(n) is not None


def bad_characters(value: str | None) -> bool:
    """NM03: digits, punctuation other than the middle dot, or Han and Latin letters mixed."""
    n = name_form(value)
    if n is None:
        return False
    return not (RE_HAN_NAME.fullmatch(n) or RE_LATIN_NAME.fullmatch(n))


def implausible_length(value: str | None, max_len: int = 6) -> bool:
    """NM04 for Han names: one character, or more than max_len without a middle dot."""
    n = name_form(value)
    if n is None or not RE_HAN_NAME.fullmatch(n):
        return False
    return len(n) == 1 or (len(n) > max_len and "·" not in n)


def surname(value: str | None) -> str | None:
    n = name_form(value)
    return n[0] if n else None
