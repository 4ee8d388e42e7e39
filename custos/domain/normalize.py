"""Normalisation shared by every check (pure functions, no I/O).

The SQL engines apply the same mapping with ``translate(value, FULLWIDTH, HALFWIDTH)``; keep the two
strings here the single source of it.
"""

from __future__ import annotations

# Full-width digits, letters and the punctuation that occurs in IDs, phones and e-mails, and the
# ideographic space, map to their ASCII forms (the engines use the same two strings in SQL).
_FW_PUNCT = "（）－＠．＿＋＃／"
_HW_PUNCT = "()-@._+#/"
FULLWIDTH = (
    "".join(chr(c) for c in range(0xFF10, 0xFF1A))
    + "".join(chr(c) for c in range(0xFF21, 0xFF3B))
    + "".join(chr(c) for c in range(0xFF41, 0xFF5B))
    + _FW_PUNCT
    + "\u3000"
)
HALFWIDTH = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" + _HW_PUNCT + " "
assert len(FULLWIDTH) == len(HALFWIDTH)
_TABLE = str.maketrans(FULLWIDTH, HALFWIDTH)

# Middle-dot variants used in minority and foreign names; all become U+00B7 (the engines' SQL and
# custos_native read this string too).
DOT_VARIANTS = "•・‧∙⋅"
_DOT_TABLE = str.maketrans({c: "·" for c in DOT_VARIANTS})

# Characters removed from an address before comparing (blanks and common punctuation).
ADDRESS_DROP = " ,，.。、-_/()（）#"

# Chinese numerals count as a house number in an address (AD03) and as a numbered part (AD04).
CHINESE_NUMERALS = "零〇一二两三四五六七八九十百千"


def halfwidth(value: str) -> str:
    """Full-width letters, digits and punctuation to ASCII."""
    return value.translate(_TABLE)


def clean(value: str | None) -> str | None:
    """Half-width, trimmed; empty becomes None (an empty cell is a missing value)."""
    if value is None:
        return None
    out = halfwidth(value).strip(" ")
    return out or None


def name_form(value: str | None) -> str | None:
    """A name as compared: cleaned, middle-dot variants unified, inner blanks around dots removed."""
    v = clean(value)
    if v is None:
        return None
    return v.translate(_DOT_TABLE)


def address_form(value: str | None) -> str | None:
    """An address as compared: cleaned, all blanks and common punctuation removed, lower-case."""
    v = clean(value)
    if v is None:
        return None
    out = "".join(c for c in v.lower() if c not in ADDRESS_DROP)
    return out or None
