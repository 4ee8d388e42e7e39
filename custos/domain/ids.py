"""Chinese resident identity numbers (GB 11643-1999): parse, check digit, 15→18 upgrade."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from custos.domain.normalize import clean

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"  # indexed by (sum of weighted digits) mod 11
RE18 = re.compile(r"\d{17}[\dX]")
RE15 = re.compile(r"\d{15}")
# ascending or descending runs of 8 digits (ID08, PH03)
RUNS = ("01234567", "12345678", "23456789", "98765432", "87654321", "76543210")


def normalize(value: str | None) -> str | None:
    """Half-width, trimmed, upper-case (a lower-case x check digit is accepted as X)."""
    v = clean(value)
    return v.upper() if v is not None else None


def check_digit(body17: str) -> str:
    """GB 11643 / ISO 7064 MOD 11-2 check character of the first 17 digits."""
    return CHECK_CHARS[sum(int(c) * w for c, w in zip(body17, WEIGHTS, strict=True)) % 11]


def is_18(value: str) -> bool:
    return RE18.fullmatch(value) is not None


def is_15(value: str) -> bool:
    return RE15.fullmatch(value) is not None


def birth_date(number: str) -> dt.date | None:
    """The birth date encoded in an 18- or 15-digit number, None when it is not a real date."""
    text = number[6:14] if len(number) == 18 else "19" + number[6:12]
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def gender(number: str) -> str:
    """M when the sequence number is odd, F when even (17th digit; 15th of a 15-digit number)."""
    digit = number[16] if len(number) == 18 else number[14]
    return "M" if int(digit) % 2 else "F"


def upgrade15(number: str) -> str:
    """The 18-digit form of a legacy 15-digit number: century 19 inserted, check digit appended."""
    if not is_15(number):
        raise ValueError("not a 15-digit identity number")
    body = number[:6] + "19" + number[6:]
    return body + check_digit(body)


def is_placeholder(number: str, published: frozenset[str] = frozenset()) -> bool:
    """ID08: one digit repeated, a run of 8 ascending/descending digits, sequence 000, a published example."""
    body = number[:17]
    if len(set(body)) == 1:
        return True
    if any(r in body for r in RUNS):
        return True
    if len(number) == 18 and number[14:17] == "000":
        return True
    return number.lower() in published


@dataclass(frozen=True)
class ParsedId:
    number: str
    valid_format: bool
    check_ok: bool
    birth: dt.date | None
    gender: str | None


def parse(value: str | None) -> ParsedId | None:
    n = normalize(value)
    if n is None:
        return None
    if is_18(n):
        return ParsedId(n, True, check_digit(n[:17]) == n[17], birth_date(n), gender(n))
    return ParsedId(n, False, False, None, None)
