"""E-mail syntax (EM01): a practical subset of RFC 5322 that mail systems accept."""

from __future__ import annotations

import re

from custos.domain.normalize import clean

# local part: letters, digits and ._%+- ; domain: labels of letters, digits, hyphen; TLD 2+ letters
RE_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")


def normalize(value: str | None) -> str | None:
    v = clean(value)
    return v.lower() if v is not None else None


def is_valid(value: str | None) -> bool:
    n = normalize(value)
    if n is None:
        return True
    return RE_EMAIL.fullmatch(n) is not None and ".." not in n and not n.startswith(".") and ".@" not in n
